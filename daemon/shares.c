/* Per-user write shares: a short array, since few users have writes in flight at once. */
#include "shares.h"

#include <errno.h>
#include <stdlib.h>

#include "common/grow.h"

void mttd_shares_free(mttd_shares *sh)
{
        free(sh->v);
        *sh = (mttd_shares){0};
}

static mttd_uid_writes *find(const mttd_shares *sh, uid_t uid)
{
        for (size_t i = 0; i < sh->n; i++)
                if (sh->v[i].uid == uid)
                        return &sh->v[i];
        return NULL;
}

int mttd_shares_add(mttd_shares *sh, uid_t uid)
{
        mttd_uid_writes *w = find(sh, uid);
        if (!w) {
                if (mtt_grow(&sh->v, &sh->cap, sh->n + 1, sizeof(*sh->v), 8) < 0)
                        return -ENOMEM;
                w = &sh->v[sh->n++];
                *w = (mttd_uid_writes){.uid = uid};
        }
        w->in_flight++;
        return 0;
}

void mttd_shares_remove(mttd_shares *sh, uid_t uid)
{
        mttd_uid_writes *w = find(sh, uid);
        if (!w || --w->in_flight > 0)
                return;
        *w = sh->v[--sh->n]; /* a user with nothing in flight leaves the array */
}

unsigned mttd_shares_in_flight(const mttd_shares *sh, uid_t uid)
{
        const mttd_uid_writes *w = find(sh, uid);
        return w ? w->in_flight : 0;
}
