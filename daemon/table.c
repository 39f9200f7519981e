/* The session table. */
#include "table.h"

#include <errno.h>

void mttd_table_init(mttd_table *t, unsigned history, const mttd_row_hook *row)
{
        *t = (mttd_table){.history = history, .row = *row, .next_id = 1};
        TAILQ_INIT(&t->all);
}

void mttd_table_done(mttd_table *t)
{
        mttd_session *s;
        while ((s = TAILQ_FIRST(&t->all))) {
                TAILQ_REMOVE(&t->all, s, link);
                mttd_session_free(s);
        }
        mttd_shares_free(&t->open_per_uid);
}

int mttd_table_reserve(mttd_table *t, uid_t uid, unsigned max_running, unsigned max_per_uid)
{
        if (t->n_running >= max_running ||
            mttd_shares_in_flight(&t->open_per_uid, uid) >= max_per_uid)
                return -EUSERS;
        return mttd_shares_add(&t->open_per_uid, uid);
}

void mttd_table_unreserve(mttd_table *t, uid_t uid)
{
        mttd_shares_remove(&t->open_per_uid, uid);
}

static void set_watch(const mttd_table *t, mttd_session *s)
{
        s->watched = s->watchers || t->n_watch_all;
}

void mttd_table_add(mttd_table *t, mttd_session *s)
{
        TAILQ_INSERT_TAIL(&t->all, s, link);
        t->next_id++;
        t->n_running++;
        set_watch(t, s);
}

int mttd_table_adopt(mttd_table *t, mttd_session *s)
{
        if (mttd_shares_add(&t->open_per_uid, s->uid) < 0)
                return -ENOMEM;
        mttd_session *o;
        TAILQ_FOREACH_REVERSE(o, &t->all, mttd_session_list, link)
        if (o->id < s->id)
                break;
        if (o)
                TAILQ_INSERT_AFTER(&t->all, o, s, link);
        else
                TAILQ_INSERT_HEAD(&t->all, s, link);
        if (s->id >= t->next_id)
                t->next_id = s->id + 1;
        t->n_running += mttd_session_running(s);
        set_watch(t, s);
        return 0;
}

void mttd_table_left_running(mttd_table *t, mttd_session *s)
{
        t->n_running--;
}

void mttd_table_finished(mttd_table *t, mttd_session *s)
{
        mttd_shares_remove(&t->open_per_uid, s->uid);
}

void mttd_table_announced(mttd_table *t, mttd_session *s)
{
        t->n_announced++;
}

void mttd_table_trim(mttd_table *t)
{
        mttd_session *s = TAILQ_FIRST(&t->all);
        while (s && t->n_announced > t->history) {
                mttd_session *next = TAILQ_NEXT(s, link);
                if (s->phase == MTTD_PHASE_ANNOUNCED) {
                        TAILQ_REMOVE(&t->all, s, link);
                        mttd_session_free(s);
                        t->n_announced--;
                }
                s = next;
        }
}

mttd_session *mttd_table_find(const mttd_table *t, uint64_t id)
{
        mttd_session *s;
        mttd_table_foreach(s, t) if (s->id == id) return s;
        return NULL;
}

void mttd_table_watch(mttd_table *t, mttd_session *s, int delta)
{
        if (s) {
                s->watchers += delta;
                set_watch(t, s);
                return;
        }
        t->n_watch_all += delta;
        mttd_table_foreach(s, t) set_watch(t, s);
}
