/* cli_arch.c — see cli_arch.h. */
#include "cli_arch.h"

#include <stdio.h>
#include <string.h>

#include "cli_opts.h"
#include "commands.h"

int cli_arch(const char *cmd, const char *name, bool allow_host, attnc_tools_arch *out)
{
    if (allow_host && !strcmp(name, "host")) {
        *out = ATTNC_TOOLS_HOST;
        return EXIT_OK;
    }
    if (attnc_tools_arch_parse(name, out)) {
        const char *emitted = attnc_tools_arch_name(*out);
        if (strcmp(name, emitted))
            fprintf(stderr, "attnc %s: note: --arch %s emits %s code (it runs on %s GPUs)\n", cmd, name, emitted,
                    name);
        return EXIT_OK;
    }
    const char *names[16] = {"host"};
    int n = allow_host ? 1 : 0;
    n += attnc_tools_arch_names(names + n, 16 - n);
    strbuf sb;
    sb_init(&sb);
    int cc = 0, len = 0;
    bool well_formed = sscanf(name, "sm_%d%n", &cc, &len) == 1 && (!name[len] || !strcmp(name + len, "a"));
    sb_printf(&sb, "unknown --arch '%s'%s (accepted: %s", name,
              well_formed && cc < 80 ? ": GPUs before sm_80 (Ampere) are not supported" : "", allow_host ? "host, " : "");
    attnc_tools_arch_list(&sb);
    sb_putc(&sb, ')');
    if (!well_formed) /* sm_75 is no typo of sm_80 */
        cli_did_you_mean(&sb, name, names, n);
    int rc = cli_usage_error(cmd, "%s", sb.failed ? "unknown --arch" : sb_cstr(&sb));
    sb_free(&sb);
    return rc;
}
