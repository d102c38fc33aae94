// SPDX-License-Identifier: GPL-2.0
/* bss_100m: a 100 MiB .bss (loads); see bigbss.h. */
#define BSS_SIZE (100UL << 20)
#include "bigbss.h"
MODULE_DESCRIPTION("a 100 MiB .bss");
