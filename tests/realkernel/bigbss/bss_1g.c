// SPDX-License-Identifier: GPL-2.0
/* bss_1g: a 1 GiB .bss (larger than the module area); see bigbss.h. */
#define BSS_SIZE (1UL << 30)
#include "bigbss.h"
MODULE_DESCRIPTION("a 1 GiB .bss");
