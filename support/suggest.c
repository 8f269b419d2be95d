/* suggest.c — see suggest.h. */
#include "suggest.h"

#include <string.h>

int suggest_distance(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b);
    if (n > SUGGEST_MAX_LEN || m > SUGGEST_MAX_LEN)
        return -1;
    int prev2[SUGGEST_MAX_LEN + 1], prev[SUGGEST_MAX_LEN + 1], cur[SUGGEST_MAX_LEN + 1];
    for (size_t j = 0; j <= m; j++)
        prev[j] = (int)j;
    for (size_t i = 1; i <= n; i++) {
        cur[0] = (int)i;
        for (size_t j = 1; j <= m; j++) {
            int cost = a[i - 1] != b[j - 1];
            int v = prev[j - 1] + cost;
            if (prev[j] + 1 < v)
                v = prev[j] + 1;
            if (cur[j - 1] + 1 < v)
                v = cur[j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && prev2[j - 2] + 1 < v)
                v = prev2[j - 2] + 1;
            cur[j] = v;
        }
        memcpy(prev2, prev, sizeof prev);
        memcpy(prev, cur, sizeof cur);
    }
    return prev[m];
}

const char *suggest_nearest(const char *word, const char *const *names, int n)
{
    size_t wl = strlen(word);
    if (wl == 0 || wl > SUGGEST_MAX_LEN)
        return NULL;
    const char *best = NULL;
    int best_d = 1 << 30;
    for (int i = 0; i < n; i++) {
        int d = names[i] ? suggest_distance(word, names[i]) : -1;
        if (d >= 0 && d < best_d) {
            best_d = d;
            best = names[i];
        }
    }
    /* close enough: at most a third of the word, and at least one edit allowed */
    int allowed = (int)wl / 3 > 1 ? (int)wl / 3 : 1;
    if (wl >= 5 && allowed < 2)
        allowed = 2;
    return best && best_d <= allowed ? best : NULL;
}
