/* SPDX-License-Identifier: GPL-2.0 */
/* Interface of exporter.ko, used by importer.ko. */
#ifndef KMODSIM_EXPORTER_H
#define KMODSIM_EXPORTER_H

extern int kmodsim_calls;
int kmodsim_add(int a, int b);
void kmodsim_greet(const char *who);
unsigned long kmodsim_secret(void);	/* namespace KMODSIM_DEMO */

#endif
