/* Human formatting for mttctl: durations, sizes, users, and aligned tables. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

/* "850ms", "12.5s", "3m07s", "2h05m", "3d04h". */
void mttctl_format_duration(char *buf, size_t size, double seconds);
/* GiB as "512.0 KiB", "12.3 MiB", "1.23 GiB" (signed: a baseline can exceed a sample). */
void mttctl_format_gib(char *buf, size_t size, double gib);
/* A uid's name, or its number. */
void mttctl_format_user(char *buf, size_t size, uid_t uid);

/* Labels and causes come from other programs: they go through mtt_proto_printable. */
#include "proto/text.h"

#define MTTCTL_TABLE_MAX_COLS 12

typedef struct mttctl_table {
        size_t n_cols, n_rows, cap_rows;
        const char *heads[MTTCTL_TABLE_MAX_COLS];
        int right[MTTCTL_TABLE_MAX_COLS];   /* right-aligned columns */
        bool hidden[MTTCTL_TABLE_MAX_COLS]; /* columns not printed */
        char **cells;                       /* n_rows * n_cols strings */
} mttctl_table;

void mttctl_table_init(mttctl_table *t, size_t n_cols, const char *const *heads, const int *right);
/* Adds a row of n_cols strings (copied). Returns 0 or -ENOMEM. */
int mttctl_table_add(mttctl_table *t, const char *const *row);
/* Leaves column col out of the print (a column of nothing worth showing). */
void mttctl_table_hide(mttctl_table *t, size_t col);
void mttctl_table_print(const mttctl_table *t, FILE *f);
void mttctl_table_free(mttctl_table *t);
