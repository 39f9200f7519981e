/* Running sessions ordered by when their next row is due: a binary min-heap, so a tick
 * between fine samples touches only the sessions that are due. Pure. */
#pragma once

#include <stddef.h>
#include <stdint.h>

typedef struct mttd_due_entry {
        uint64_t at_us; /* monotonic */
        void *item;
} mttd_due_entry;

typedef struct mttd_due {
        mttd_due_entry *heap;
        size_t n, cap;
} mttd_due;

void mttd_due_init(mttd_due *d);
void mttd_due_free(mttd_due *d);
/* Empties the heap without freeing it. */
void mttd_due_clear(mttd_due *d);
int mttd_due_push(mttd_due *d, uint64_t at_us, void *item);
/* The earliest entry, or NULL when empty. */
const mttd_due_entry *mttd_due_top(const mttd_due *d);
/* Removes the earliest entry and returns its item (NULL when empty). */
void *mttd_due_pop(mttd_due *d);
