/* cli_opts.c — see cli_opts.h. */
#include "cli_opts.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "support/suggest.h"

enum { MAX_CHOICES = 16, MAX_CHOICE_LEN = 32 };

void cli_did_you_mean(strbuf *sb, const char *word, const char *const *names, int n)
{
    const char *near = suggest_nearest(word, names, n);
    if (near)
        sb_printf(sb, "; did you mean '%s'?", near);
}

static int fail(const cli_spec *spec, strbuf *msg)
{
    fprintf(stderr, "attnc %s: %s\nsee attnc %s --help\n", spec->cmd, msg->failed ? "bad arguments" : sb_cstr(msg),
            spec->cmd);
    sb_free(msg);
    return EXIT_USER;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fprintf(stderr, "attnc %s: %s\nsee attnc %s --help\n", cmd, buf, cmd);
    return EXIT_USER;
}

/* The option called `name` (exactly), or NULL. */
static const cli_opt *find(const cli_spec *spec, const char *name, size_t len)
{
    for (int i = 0; i < spec->nopts; i++)
        if (strlen(spec->opts[i].name) == len && !strncmp(spec->opts[i].name, name, len))
            return &spec->opts[i];
    return NULL;
}

static void unknown_option(const cli_spec *spec, const char *arg, size_t len, strbuf *msg)
{
    char word[SUGGEST_MAX_LEN + 1];
    const char *names[64];
    int n = 0;
    for (int i = 0; i < spec->nopts && n < 64; i++)
        names[n++] = spec->opts[i].name;
    sb_printf(msg, "unknown option '%.*s'", (int)len, arg);
    if (len < sizeof word) { /* longer is no typo */
        memcpy(word, arg, len);
        word[len] = 0;
        cli_did_you_mean(msg, word, names, n);
    }
}

/* Splits "a|b|c" into names (copies in store); returns the count. */
static int split_choices(const char *choices, char store[MAX_CHOICES][MAX_CHOICE_LEN], const char *names[MAX_CHOICES])
{
    int n = 0;
    for (const char *p = choices; *p && n < MAX_CHOICES; n++) {
        size_t k = strcspn(p, "|");
        snprintf(store[n], MAX_CHOICE_LEN, "%.*s", (int)k, p);
        names[n] = store[n];
        p += k + (p[k] == '|');
    }
    return n;
}

static bool set_choice(const cli_opt *o, const char *v, int *dst, strbuf *msg)
{
    char store[MAX_CHOICES][MAX_CHOICE_LEN];
    const char *names[MAX_CHOICES];
    int n = split_choices(o->choices, store, names);
    for (int i = 0; i < n; i++)
        if (!strcmp(v, names[i])) {
            *dst = i;
            return true;
        }
    sb_printf(msg, "%s '%s': write ", o->name, v);
    for (int i = 0; i < n; i++)
        sb_printf(msg, "%s%s", i == 0 ? "" : i == n - 1 ? " or " : ", ", names[i]);
    cli_did_you_mean(msg, v, names, n);
    return false;
}

static bool set_number(const cli_opt *o, const char *v, void *dst, strbuf *msg)
{
    char *end = NULL;
    errno = 0;
    if (o->kind == CLI_KIND_U64) {
        unsigned long long u = strtoull(v, &end, 10);
        if (*v && *v != '-' && !*end && errno == 0) {
            *(uint64_t *)dst = u;
            return true;
        }
        sb_printf(msg, "%s needs a whole number from 0 to 18446744073709551615, not '%s'", o->name, v);
        return false;
    }
    double d = o->kind == CLI_KIND_INT ? (double)strtoll(v, &end, 10) : strtod(v, &end);
    if (*v && !*end && errno == 0 && isfinite(d) && d >= o->min && d <= o->max) {
        if (o->kind == CLI_KIND_INT)
            *(int *)dst = (int)d;
        else
            *(double *)dst = d;
        return true;
    }
    if (o->kind == CLI_KIND_INT)
        sb_printf(msg, "%s needs a whole number from %lld to %lld, not '%s'", o->name, (long long)o->min,
                  (long long)o->max, v);
    else
        sb_printf(msg, "%s needs a number from %g to %g, not '%s'", o->name, o->min, o->max, v);
    return false;
}

/* Stores one option's value (v is NULL for a flag). */
static bool apply(const cli_opt *o, const char *v, void *opts, strbuf *msg)
{
    void *dst = (char *)opts + o->offset;
    switch (o->kind) {
    case CLI_KIND_FLAG: *(bool *)dst = true; return true;
    case CLI_KIND_STR: *(const char **)dst = v; return true;
    case CLI_KIND_CHOICE: return set_choice(o, v, dst, msg);
    case CLI_KIND_FUNC:
        if (o->fn(opts, v, msg))
            return true;
        if (!msg->len)
            sb_printf(msg, "bad value for %s: '%s'", o->name, v);
        return false;
    default: return set_number(o, v, dst, msg);
    }
}

/* One option argument at argv[*i]; advances *i past a separate value. */
static bool one_option(const cli_spec *spec, int argc, char **argv, int *i, void *opts, strbuf *msg)
{
    const char *arg = argv[*i], *v = NULL;
    bool long_opt = arg[1] == '-';
    size_t len = long_opt ? strcspn(arg, "=") : 2;
    const cli_opt *o = find(spec, arg, len);
    if (!o) {
        unknown_option(spec, arg, long_opt ? len : strlen(arg), msg);
        return false;
    }
    if (o->kind == CLI_KIND_FLAG) {
        if (arg[len]) {
            sb_printf(msg, "%s takes no value ('%s')", o->name, arg);
            return false;
        }
        return apply(o, NULL, opts, msg);
    }
    if (arg[len])
        v = arg + len + (long_opt ? 1 : 0); /* --name=VALUE, -oVALUE */
    else if (*i + 1 < argc)
        v = argv[++*i];
    if (!v) {
        sb_printf(msg, "%s needs a value", o->name);
        return false;
    }
    return apply(o, v, opts, msg);
}

int cli_parse(const cli_spec *spec, int argc, char **argv, void *opts, cli_operands *ops)
{
    strbuf msg;
    sb_init(&msg);
    ops->n = 0;
    bool options_done = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!options_done && !strcmp(a, "--")) {
            options_done = true;
        } else if (!options_done && a[0] == '-' && a[1]) {
            if (!one_option(spec, argc, argv, &i, opts, &msg))
                return fail(spec, &msg);
        } else if (spec->max_operands >= 0 && ops->n >= spec->max_operands) {
            if (spec->max_operands == 1)
                sb_printf(&msg, "one %s at a time ('%s' is one more)", spec->operand, a);
            else
                sb_printf(&msg, "too many arguments ('%s')", a);
            return fail(spec, &msg);
        } else {
            ops->v[ops->n++] = a;
        }
    }
    if (ops->n < spec->min_operands) {
        sb_printf(&msg, "no %s given", spec->operand);
        return fail(spec, &msg);
    }
    sb_free(&msg);
    return EXIT_OK;
}
