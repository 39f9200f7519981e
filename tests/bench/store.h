/* The stand-in for systemd's fd store (store.c): the other end of the NOTIFY_SOCKET of an
 * mttd that keeps its state. */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bench.h"

typedef struct held_name held_name;

struct fd_store {
        int fd;      /* the bound socket */
        int stop[2]; /* a pipe: its write end stops the thread */
        char path[108];
        pthread_t thread;
        bool started;
        held_name **bucket; /* the names held: the thread's alone */
        atomic_ullong stored, removed, fds, other, unmatched, truncated;
        atomic_llong held;
        _Atomic uint64_t cpu_ns; /* the thread's own CPU time, as it ends */
};

/* What came so far. */
typedef struct store_counts {
        unsigned long long stored, removed, fds, other, unmatched, truncated;
        long long held;
} store_counts;

void store_counts_of(fd_store *st, store_counts *c);
int store_start(fd_store *st, const char *dir);
void store_stop(fd_store *st);
void store_free(fd_store *st, char *buf, size_t size, int max);
void bench_store(fd_store *st);
