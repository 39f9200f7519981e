/* mttd's log: one line per event on stderr, with the syslog priority as a "<N>" prefix
 * when stderr is the journal, a word otherwise. */
#pragma once

#include <syslog.h>

void mttd_log_init(void);
void mttd_log(int priority, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
