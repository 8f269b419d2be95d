/*
 * suggest.h — "did you mean" by edit distance, for unknown names: recipe
 * words in the front end; commands, options, pass names and values in the
 * CLI.
 */
#ifndef ATTNC_SUPPORT_SUGGEST_H
#define ATTNC_SUPPORT_SUGGEST_H

/* Names longer than this are never compared (nor suggested). */
enum { SUGGEST_MAX_LEN = 32 };

/* Edit distance (Levenshtein, a transposition counting as one edit) of two
 * strings of at most SUGGEST_MAX_LEN bytes; -1 when either is longer. */
int suggest_distance(const char *a, const char *b);

/* The nearest of `names` (NULL entries skipped) to `word`, or NULL when none
 * is close: within a third of the word's length, at least one edit, at least
 * two for words of five bytes or more. Ties go to the earlier name. */
const char *suggest_nearest(const char *word, const char *const *names, int n);

#endif
