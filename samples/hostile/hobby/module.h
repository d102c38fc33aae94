/*
 * module.h - the module ABI of the hobby i386 kernel described in seed 004.
 *
 * A hobby module is a plain ELF32 relocatable object (gcc -c, no link step).
 * The loader looks for a section named ".this_module" holding exactly one
 * module_t: two 32-bit function pointers, eight bytes in all.  After it has
 * applied the R_386_32 / R_386_PC32 relocations it calls ->init(); ->exit()
 * is there for an unload path the seed loader never implemented.
 *
 * The kernel exports a single symbol to modules: monitor_write().
 */
#ifndef KMODSIM_HOBBY_MODULE_H
#define KMODSIM_HOBBY_MODULE_H

typedef struct module {
	int (*init)(void);
	void (*exit)(void);
} module_t;

/* Print a NUL-terminated string on the kernel console. */
void monitor_write(const char *s);

/* Put the one module_t of a module where the loader looks for it. */
#define THIS_MODULE_SECTION __attribute__((section(".this_module")))

#endif
