/*
 * source_tree.h — where the tests find recipes/ (header-only; tests only).
 *
 * $ATTNC_SOURCE_DIR, else the working directory when it holds recipes/
 * (scripts/gpu-run.sh runs from the repository root on a machine where the
 * build-time path does not exist), else the build-time path.
 */
#ifndef ATTNC_TESTS_SOURCE_TREE_H
#define ATTNC_TESTS_SOURCE_TREE_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>

static inline const char *test_source_dir(void)
{
    const char *env = getenv("ATTNC_SOURCE_DIR");
    if (env && *env)
        return env;
    DIR *d = opendir("recipes");
    if (d) {
        closedir(d);
        return ".";
    }
    return ATTNC_SOURCE_DIR;
}

/* The recipes/ folder of the source tree (closedir it). */
static inline DIR *test_opendir_recipes(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/recipes", test_source_dir());
    return opendir(path);
}

#endif
