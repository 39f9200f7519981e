/* The due heap. */
#include "due.h"

#include <errno.h>
#include <stdlib.h>

#include "common/grow.h"

void mttd_due_init(mttd_due *d)
{
        *d = (mttd_due){0};
}

void mttd_due_free(mttd_due *d)
{
        free(d->heap);
        *d = (mttd_due){0};
}

void mttd_due_clear(mttd_due *d)
{
        d->n = 0;
}

static void swap(mttd_due_entry *a, mttd_due_entry *b)
{
        mttd_due_entry t = *a;
        *a = *b;
        *b = t;
}

int mttd_due_push(mttd_due *d, uint64_t at_us, void *item)
{
        if (mtt_grow(&d->heap, &d->cap, d->n + 1, sizeof(*d->heap), 64) < 0)
                return -ENOMEM;
        size_t i = d->n++;
        d->heap[i] = (mttd_due_entry){at_us, item};
        while (i > 0 && d->heap[(i - 1) / 2].at_us > d->heap[i].at_us) {
                swap(&d->heap[(i - 1) / 2], &d->heap[i]);
                i = (i - 1) / 2;
        }
        return 0;
}

const mttd_due_entry *mttd_due_top(const mttd_due *d)
{
        return d->n ? &d->heap[0] : NULL;
}

void *mttd_due_pop(mttd_due *d)
{
        if (d->n == 0)
                return NULL;
        void *item = d->heap[0].item;
        d->heap[0] = d->heap[--d->n];
        for (size_t i = 0;;) {
                size_t l = 2 * i + 1, r = l + 1, m = i;
                if (l < d->n && d->heap[l].at_us < d->heap[m].at_us)
                        m = l;
                if (r < d->n && d->heap[r].at_us < d->heap[m].at_us)
                        m = r;
                if (m == i)
                        break;
                swap(&d->heap[i], &d->heap[m]);
                i = m;
        }
        return item;
}
