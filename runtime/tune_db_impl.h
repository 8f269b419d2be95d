/* tune_db_impl.h — the tuning database handle, shared by tune_db.c (open,
 * checks) and tune_db_rows.c (row access). Internal. */
#ifndef ATTNC_RUNTIME_TUNE_DB_IMPL_H
#define ATTNC_RUNTIME_TUNE_DB_IMPL_H

#include <sqlite3.h>

#include "tune_db.h"

struct tune_db {
    sqlite3 *db;
    char *path;
};

#endif
