/* The one way mtt grows an array: the capacity doubles, from a first size, until the
 * elements asked for fit. Header only, so proto/ and the client library use it without
 * linking common/. */
#pragma once

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Room for need elements of elem bytes in the array *pp points to, whose capacity is *cap
 * (first when it has none yet). 0, or -ENOMEM with the array and *cap unchanged. */
static inline int mtt_grow(void *pp, size_t *cap, size_t need, size_t elem, size_t first)
{
        if (need <= *cap)
                return 0;
        size_t c = *cap ? *cap : first;
        while (c < need) {
                if (c > SIZE_MAX / 2)
                        return -ENOMEM;
                c *= 2;
        }
        if (c > SIZE_MAX / elem)
                return -ENOMEM;
        void *old; /* *pp is some T *: read and written as bytes, as C allows */
        memcpy(&old, pp, sizeof(old));
        void *p = realloc(old, c * elem);
        if (!p)
                return -ENOMEM;
        memcpy(pp, &p, sizeof(p));
        *cap = c;
        return 0;
}
