/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _GMEM_TEST_LINUX_MINMAX_H
#define _GMEM_TEST_LINUX_MINMAX_H

/* tools/include/linux/kernel.h has min(), max() and min_t(). */
#include <linux/kernel.h>

#endif /* _GMEM_TEST_LINUX_MINMAX_H */
