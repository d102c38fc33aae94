// SPDX-License-Identifier: GPL-2.0
/* bss_1000m: a 1000 MiB .bss (more pages than the machine has); see bigbss.h. */
#define BSS_SIZE (1000UL << 20)
#include "bigbss.h"
MODULE_DESCRIPTION("a 1000 MiB .bss");
