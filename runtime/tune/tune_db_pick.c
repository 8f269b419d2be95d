/* tune_db_pick.c — the schedule a `tile auto` launch uses: the tuning
 * database's best for (recipe, arch, shape bucket), parsed and re-checked,
 * else the documented default (schedule_default); see tune_db.h. */
#include "ir/schedule.h"
#include "runtime/tune/tune_db.h"

static const char *arch_key(target_arch a)
{
    return a == TARGET_HOST ? "host" : a == TARGET_SM90A ? "sm_90a" : "sm_80";
}

tune_result tune_db_pick_schedule(tune_db *db, const char *recipe_hash, target_arch arch, const tune_shape *shape,
                                  int ndims, int head_dim, int elem_size, bool linear, schedule *out, strbuf *msg)
{
    *out = schedule_default(ndims, arch, linear);
    if (!db)
        return TUNE_NOT_FOUND;
    char bucket[64];
    tune_bucket(bucket, sizeof bucket, shape->batch, shape->heads, shape->tokens, shape->kv_tokens, head_dim);
    tune_record rec;
    tune_result r = tune_db_lookup(db, recipe_hash, arch_key(arch), bucket, &rec, msg);
    if (r != TUNE_FOUND)
        return r;
    schedule s;
    strbuf why;
    sb_init(&why);
    bool ok = schedule_parse(rec.schedule, ndims, &s, &why) && !s.is_auto &&
              schedule_check(&s, arch, head_dim, elem_size, &why);
    if (ok)
        *out = s;
    else if (msg) /* e.g. stored by an older attnc with other limits: keep the default */
        sb_printf(msg, "stored schedule '%s' for bucket %s is no longer legal (%s); using the default", rec.schedule,
                  bucket, sb_cstr(&why));
    sb_free(&why);
    return ok ? TUNE_FOUND : TUNE_CORRUPT;
}
