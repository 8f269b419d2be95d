/* tune_db_impl.h — the tuning database handle, shared by tune_db.c (open,
 * checks) and tune_db_rows.c (row access). Internal. */
#ifndef ATTNC_RUNTIME_TUNE_DB_IMPL_H
#define ATTNC_RUNTIME_TUNE_DB_IMPL_H

#include <sqlite3.h>

#include "runtime/tune/tune_db.h"

struct tune_db {
    sqlite3 *db;
    char *path;
    bool readonly; /* opened for reading only: the file or its folder cannot be written */
};

/* Moves a damaged database (and its -wal/-shm files) to
 * PATH.corrupt-<unix time>, removing any older such copy: at most one is
 * kept (tune_db_aside.c). The note says where it went. */
void tune_db_move_aside(const char *path, strbuf *note);

#endif
