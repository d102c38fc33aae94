// SPDX-License-Identifier: GPL-2.0
/* bss_600m: a 600 MiB .bss (more pages than the machine has); see bigbss.h. */
#define BSS_SIZE (600UL << 20)
#include "bigbss.h"
MODULE_DESCRIPTION("a 600 MiB .bss");
