/* The session table: every session, running and recently ended, oldest first; lookups by
 * id; how many run, in all and per user; which ones are watched; how many ended ones are
 * kept for List and Status (cfg->history). It owns the sessions and frees them. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include "session.h"
#include "shares.h"

TAILQ_HEAD(mttd_session_list, mttd_session);

typedef struct mttd_table {
        struct mttd_session_list all; /* oldest first */
        unsigned n_running;
        unsigned n_announced;     /* ended, and their end told */
        unsigned history;         /* ... of which so many are kept */
        mttd_shares open_per_uid; /* sessions not yet finished (fd closed), per user */
        unsigned n_watch_all;     /* connections that watch every session */
        mttd_row_hook row;        /* where watched sessions' rows go */
        uint64_t next_id;
} mttd_table;

#define mttd_table_foreach(s, t) TAILQ_FOREACH(s, &(t)->all, link)

void mttd_table_init(mttd_table *t, unsigned history, const mttd_row_hook *row);
/* Frees every session. */
void mttd_table_done(mttd_table *t);

/* Counts a user's open session before it is made: 0, or -EUSERS past max_per_uid or
 * max_running, or -ENOMEM. */
int mttd_table_reserve(mttd_table *t, uid_t uid, unsigned max_running, unsigned max_per_uid);
/* ... and gives back that count when the session could not be made after all. */
void mttd_table_unreserve(mttd_table *t, uid_t uid);
/* Adds a session made after mttd_table_reserve, running, with the next id's place taken. */
void mttd_table_add(mttd_table *t, mttd_session *s);
/* A session stopped running. */
/* A session a new mttd took over, in its place by id; later ones are numbered after it.
 * 0 or -ENOMEM. */
int mttd_table_adopt(mttd_table *t, mttd_session *s);
void mttd_table_left_running(mttd_table *t, mttd_session *s);
/* Its report is finished (fd closed): its user may open another. */
void mttd_table_finished(mttd_table *t, mttd_session *s);
/* Its end was told: it counts against the history from now on. */
void mttd_table_announced(mttd_table *t, mttd_session *s);
/* Frees the oldest announced sessions past the history (never under a loop over them). */
void mttd_table_trim(mttd_table *t);

mttd_session *mttd_table_find(const mttd_table *t, uint64_t id);
static inline mttd_session *mttd_table_first(const mttd_table *t)
{
        return TAILQ_FIRST(&t->all);
}
static inline mttd_session *mttd_table_next(const mttd_session *s)
{
        return TAILQ_NEXT(s, link);
}

/* Someone starts (+1) or stops (-1) watching s, or every session when s is NULL. */
void mttd_table_watch(mttd_table *t, mttd_session *s, int delta);
