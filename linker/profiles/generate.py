"""Generate the shipped kernel profiles in ``linker/profiles/data/``.

    python -m linker.profiles.generate --shared ../shared        # rewrite data/
    python -m linker.profiles.generate --shared ../shared --check  # exit 1 if data/ is stale

Inputs come from ``shared/kernel/`` (Debian's own packages, see its README.md):

* ``debian-6.1.0-56-amd64/``: System.map, Module.symvers, the raw ``.BTF`` section and
  the config of the reference kernel -> profile ``linux-6.1.0-56-amd64``;
* ``debian-6.1.0-50-686/``: Module.symvers and config of an i386 kernel
  -> profile ``linux-6.1.0-50-686`` (CRCs for linking, no addresses);
* the hobby kernel of seed 004 is a literal below -> profile ``hobby-i386``.

The output is byte-for-byte the same on every run with the same inputs (sorted tables,
fixed JSON layout, gzip with mtime 0), so a regenerated profile diffs cleanly.
``FORMAT.md`` beside this file documents what is written.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import lzma
import re
import sys
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

from linker.errors import ProfileError
from linker.profiles.btf import Btf, BtfKind, Field, parse_btf

# a profile's JSON document, or a part of it
Json = dict[str, Any]

FORMAT_VERSION = 1
DATA_DIR = Path(__file__).resolve().parent / "data"
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SHARED = REPO_ROOT.parent / "shared"

AMD64 = "linux-6.1.0-56-amd64"
I686 = "linux-6.1.0-50-686"
HOBBY = "hobby-i386"

EXPORTS_HEADER = "#name\taddr\tcrc\tflags\tnamespace\texporter\n"

# -- facts read elsewhere and written down here --------------------------------------------
#
# uname -v of each kernel: the banner in the linux-image package's /boot/vmlinuz
# (`strings vmlinuz-6.1.0-56-amd64 | grep PREEMPT_DYNAMIC`); not in ../shared.
UNAME_VERSION = {
    AMD64: "#1 SMP PREEMPT_DYNAMIC Debian 6.1.192-2 (2026-11-16)",
    I686: "#1 SMP PREEMPT_DYNAMIC Debian 6.1.176-1 (2026-07-02)",
}

# x86_64 MODULES_VADDR = __START_KERNEL_map + KERNEL_IMAGE_SIZE (1 GiB with
# CONFIG_RANDOMIZE_BASE) and MODULES_END (arch/x86/include/asm/pgtable_64_types.h);
# nokaslr, so the area starts where the header says.
AMD64_MODULE_AREA = (0xFFFFFFFFC0000000, 0xFFFFFFFFFF000000)

# The i386 kernel has no BTF in ../shared.  These layouts were read off real modules of
# linux-image-6.1.0-50-686 (`shared/tools/debian-modules i386`), and the tests re-check them
# when those modules are unpacked:
#   .gnu.linkonce.this_module is 0x240 bytes; .rel.gnu.linkonce.this_module patches
#   init_module at 0xcc and cleanup_module at 0x20c; the module name starts at 0xc;
#   __versions entries are 64 bytes with the name at 4; __param entries are 20 bytes
#   with relocations at 0 (name), 4 (mod), 8 (ops), 16 (arg) and perm 0444 at 12.
# MODULE_NAME_LEN is 64 - sizeof(unsigned long), so the name is 60 bytes on i386.
I686_STRUCTS = {
    "module": (576, {"state": (0, 4, "enum module_state"), "list": (4, 8, "struct list_head"),
                     "name": (12, 60, "char[60]"), "init": (204, 4, "int (*)(void)"),
                     "exit": (524, 4, "void (*)(void)")}),
    "modversion_info": (64, {"crc": (0, 4, "long unsigned int"), "name": (4, 60, "char[60]")}),
    "kernel_param": (20, {"name": (0, 4, "const char *"), "mod": (4, 4, "struct module *"),
                          "ops": (8, 4, "const struct kernel_param_ops *"),
                          "perm": (12, 2, "const u16"), "level": (14, 1, "s8"),
                          "flags": (15, 1, "u8"), "arg": (16, 4, "void *"),
                          "str": (16, 4, "const struct kparam_string *"),
                          "arr": (16, 4, "const struct kparam_array *")}),
    "list_head": (8, {"next": (0, 4, "struct list_head *"), "prev": (4, 4, "struct list_head *")}),
}

# Seed 004's hobby kernel, written by hand: see FORMAT.md, "hobby-i386".
HOBBY_MONITOR_WRITE_ADDR = 0x00101000   # chosen: kernel text loaded at 1 MiB (multiboot)
HOBBY_MODULE_AREA = (0x00400000, 0x00800000)  # chosen: the heap that kmalloc()s the .o

# -- the kernel API kmodsim implements itself ------------------------------------------------
#
# export name -> "builtin:<group>.<name>"; groups follow the kernel source tree
# (kernel/printk, mm/slab, lib/string.c, ...).  An export not listed binds to the
# implementation registered under its own name, if any (emulator.kapi.registry); one with
# none is not simulated: a call to it stops the run.
BUILTIN_GROUPS = {
    "printk": ["_printk", "vprintk", "__printk_ratelimit", "__dynamic_pr_debug", "_dev_printk",
               "_dev_info", "_dev_err", "_dev_warn", "_dev_notice", "dump_stack"],
    "panic": ["panic", "__warn_printk", "__stack_chk_fail", "add_taint"],
    "slab": ["kfree", "kmalloc_trace", "__kmalloc", "__kmalloc_node", "kmalloc_node_trace",
             "kmalloc_large", "kmalloc_caches", "kmem_cache_alloc", "kmem_cache_free",
             "kmem_cache_create", "kmem_cache_destroy", "krealloc", "ksize", "kstrdup",
             "kmemdup", "kfree_const", "kvmalloc_node", "kvfree"],
    "vmalloc": ["vmalloc", "vzalloc", "vfree"],
    "string": ["memcpy", "memset", "memmove", "memcmp", "strcmp", "strncmp", "strlen", "strnlen",
               "strcpy", "strncpy", "strscpy", "strcat", "strncat", "strchr", "strrchr",
               "strstr", "strsep"],
    "vsprintf": ["snprintf", "sprintf", "scnprintf", "vsnprintf", "vscnprintf", "vsprintf",
                 "sscanf", "kasprintf"],
    "kstrtox": ["kstrtoint", "kstrtouint", "_kstrtol", "_kstrtoul", "kstrtoll", "kstrtoull",
                "kstrtobool"],
    "mutex": ["mutex_lock", "mutex_unlock", "mutex_trylock", "mutex_lock_interruptible",
              "__mutex_init"],
    "spinlock": ["_raw_spin_lock", "_raw_spin_unlock", "_raw_spin_lock_irqsave",
                 "_raw_spin_unlock_irqrestore", "_raw_spin_lock_irq", "_raw_spin_unlock_irq",
                 "_raw_spin_lock_bh", "_raw_spin_unlock_bh"],
    "time": ["jiffies", "jiffies_64", "msleep", "msleep_interruptible", "usleep_range_state",
             "__udelay", "__const_udelay", "__ndelay", "schedule_timeout", "ktime_get",
             "ktime_get_real_ts64", "ktime_get_real_seconds"],
    "sched": ["schedule", "__cond_resched", "wake_up_process", "current_task", "init_task",
              "__preempt_count"],
    "module": ["try_module_get", "module_put", "__module_get"],
    "uaccess": ["_copy_from_user", "_copy_to_user", "__check_object_size"],
    "list": ["__list_add_valid", "__list_del_entry_valid"],
    "rcu": ["__rcu_read_lock", "__rcu_read_unlock"],
    "x86": ["__fentry__", "__x86_return_thunk"],
    "devices": ["alloc_chrdev_region", "register_chrdev_region", "unregister_chrdev_region",
                "__register_chrdev", "__unregister_chrdev", "cdev_init", "cdev_alloc",
                "cdev_add", "cdev_del", "__class_create", "class_destroy", "device_create",
                "device_destroy", "misc_register", "misc_deregister", "proc_create",
                "proc_create_data", "proc_create_single_data", "proc_mkdir", "proc_mkdir_mode",
                "proc_remove", "remove_proc_entry", "__init_waitqueue_head", "__wake_up",
                "init_timer_key", "add_timer", "mod_timer", "kthread_create_on_node",
                "kthread_stop", "kthread_should_stop", "seq_printf", "seq_vprintf",
                "seq_puts", "seq_putc", "seq_write"],
}
# Whole families bound by pattern: kernel/params.c and the retpoline thunks.
BUILTIN_PATTERNS = {
    "params": re.compile(r"param_(ops|get|set|free)_\w+|param_array_ops"),
    "x86": re.compile(r"__x86_indirect_thunk_\w+"),
}

# Static calls whose trampoline, on the reference kernel, jumps to a function kmodsim
# implements: export -> "<group>.<name>" of that function. Debian builds PREEMPT_DYNAMIC with
# CONFIG_PREEMPT_VOLUNTARY, so the boot-time mode is "voluntary" (sched_dynamic_update):
# cond_resched and might_resched are __cond_resched.
STATIC_CALL_BINDINGS = {
    "__SCT__cond_resched": "sched.__cond_resched",
    "__SCT__might_resched": "sched.__cond_resched",
}

# The harmless no-ops: vmlinux functions whose real work has no effect a module or a
# scenario can observe in the simulated kernel, bound to "builtin:noop.<name>" (the call
# returns 0 in rax: "no trace entry", "not filtered"). Nothing else is skipped: an export
# with no implementation stops the run. Each entry says why it does nothing here.
NOOP_EXPORTS = {
    # preempt=voluntary (see STATIC_CALL_BINDINGS): sched_dynamic_update sets these static
    # calls to NULL, so on the reference kernel the trampoline is a bare `ret`
    "__SCT__preempt_schedule": "preempt=voluntary: a NULL static call, its trampoline a ret",
    "__SCT__preempt_schedule_notrace": "preempt=voluntary: a NULL static call, a ret",
    # event tracing (TRACE_EVENT in a module): the module's code reaches these only while
    # one of its events is enabled, which takes tracefs, perf or BPF; kmodsim has none of
    # them, so no event is ever on. Reached anyway, they answer as a kernel with the event
    # off: no trigger, pid not filtered, no buffer entry (NULL), so the event code returns
    "__trace_trigger_soft_disabled": "event tracing: no trigger is set (0)",
    "trace_event_ignore_this_pid": "event tracing: no pid filter (0)",
    "trace_event_buffer_reserve": "event tracing: no ring buffer entry (NULL): the event returns",
    "trace_event_buffer_commit": "event tracing: reached only with an entry, never given",
    "perf_trace_buf_alloc": "perf tracing: no perf buffer (NULL): the event returns",
    "perf_trace_run_bpf_submit": "perf tracing: reached only with a buffer, never given",
    # ...and the event class callbacks, which only the tracing core calls (registering the
    # events with tracefs, formatting /sys/kernel/tracing/trace): a module only stores
    # their addresses in its trace_event_class
    "trace_event_raw_init": "event class callback: only tracefs registration calls it",
    "trace_event_reg": "event class callback: only enabling an event calls it",
    "trace_raw_output_prep": "event output: only reading the trace file calls it",
    "trace_event_printf": "event output: only reading the trace file calls it",
    "trace_handle_return": "event output: only reading the trace file calls it",
    "trace_print_symbols_seq": "event output: only reading the trace file calls it",
    "trace_print_flags_seq": "event output: only reading the trace file calls it",
    # wrappers that only fire a tracepoint of the kernel's (no probe: nothing happens)
    "do_trace_netlink_extack": "fires the netlink_extack tracepoint, which has no probe",
    # mixes bytes into the entropy pool: get_random_* is unpredictable either way
    "add_device_randomness": "only stirs the entropy pool, which nothing can observe",
}
NOOP_PATTERNS = {
    # a tracepoint's iterator and static call run its probes; kmodsim registers none
    # (tracepoint_probe_register is not simulated), so they do nothing
    re.compile(r"__traceiter_\w+"): "runs the tracepoint's probes: there are none",
    re.compile(r"__SCT__tp_func_\w+"): "the tracepoint's static call: no probe, nothing runs",
    # what a BPF program attached to a raw tracepoint runs: none can be attached
    re.compile(r"bpf_trace_run\d+"): "runs an attached BPF program: none can be attached",
}

# -- struct facts ----------------------------------------------------------------------------
#
# struct -> members to record; "*" records every member (anonymous ones flattened).
STRUCT_SPEC = {
    "task_struct": ["thread_info", "__state", "stack", "usage", "flags", "on_cpu", "prio",
                    "static_prio", "normal_prio", "policy", "tasks", "mm", "active_mm",
                    "exit_code", "exit_signal", "pid", "tgid", "stack_canary", "real_parent",
                    "parent", "children", "sibling", "group_leader", "thread_pid",
                    "real_cred", "cred", "comm"],
    "thread_info": "*",
    "list_head": "*",
    "hlist_head": "*",
    "hlist_node": "*",
    "module": "*",
    "module_layout": ["base", "size", "text_size", "ro_size", "ro_after_init_size"],
    "mod_kallsyms": "*",
    "kernel_param": "*",
    "kernel_param_ops": "*",
    "kparam_string": "*",
    "kparam_array": "*",
    "kernel_symbol": "*",
    "modversion_info": "*",
    "exception_table_entry": "*",
    "bug_entry": "*",
    "_ddebug": ["modname", "function", "filename", "format", "lineno", "class_id", "flags"],
    "jump_entry": "*",
    "static_call_site": "*",
    "alt_instr": "*",
    "mutex": ["owner", "wait_lock", "wait_list"],
    "timer_list": ["entry", "expires", "function", "flags"],
    "work_struct": ["data", "entry", "func"],
}
# The brief's minimum: generation fails if BTF lacks one of these.
REQUIRED_FIELDS = {
    "task_struct": ["pid", "comm", "tasks", "tgid", "stack", "real_parent"],
    "list_head": ["next", "prev"],
    "module": ["state", "list", "name", "init", "exit", "core_layout", "init_layout", "refcnt"],
    "kernel_param": ["name", "mod", "ops", "perm", "level", "flags", "arg"],
    "modversion_info": ["crc", "name"],
}
DESCRIPTOR_FIELDS = ["state", "list", "name", "init", "exit"]

# Configuration the loader and emulator care about; anything "is not set" is null.
CONFIG_KEYS = [
    "CONFIG_64BIT", "CONFIG_X86_64", "CONFIG_X86_32", "CONFIG_SMP", "CONFIG_NR_CPUS",
    "CONFIG_PREEMPT_BUILD", "CONFIG_PREEMPT_VOLUNTARY", "CONFIG_PREEMPT", "CONFIG_PREEMPT_DYNAMIC",
    "CONFIG_PREEMPT_RT", "CONFIG_HZ", "CONFIG_PAGE_OFFSET", "CONFIG_HIGHMEM4G", "CONFIG_X86_PAE",
    "CONFIG_RANDOMIZE_BASE", "CONFIG_LOCALVERSION",
    "CONFIG_MODULES", "CONFIG_MODULE_UNLOAD", "CONFIG_MODULE_FORCE_LOAD",
    "CONFIG_MODULE_FORCE_UNLOAD", "CONFIG_MODULE_UNLOAD_TAINT_TRACKING", "CONFIG_MODVERSIONS",
    "CONFIG_ASM_MODVERSIONS", "CONFIG_MODULE_SRCVERSION_ALL", "CONFIG_MODULE_SIG",
    "CONFIG_MODULE_SIG_FORCE", "CONFIG_MODULE_SIG_ALL", "CONFIG_MODULE_SIG_HASH",
    "CONFIG_MODULE_COMPRESS_NONE", "CONFIG_MODULE_COMPRESS_GZIP", "CONFIG_MODULE_COMPRESS_XZ",
    "CONFIG_MODULE_COMPRESS_ZSTD", "CONFIG_MODULE_DECOMPRESS",
    "CONFIG_MODULE_ALLOW_MISSING_NAMESPACE_IMPORTS", "CONFIG_MODPROBE_PATH",
    "CONFIG_TRIM_UNUSED_KSYMS", "CONFIG_MODULES_TREE_LOOKUP", "CONFIG_MODULES_USE_ELF_RELA",
    "CONFIG_MODULES_USE_ELF_REL", "CONFIG_HAVE_ARCH_PREL32_RELOCATIONS",
    "CONFIG_STRICT_KERNEL_RWX", "CONFIG_STRICT_MODULE_RWX", "CONFIG_SECURITY_LOCKDOWN_LSM",
    "CONFIG_LOCK_DOWN_KERNEL_FORCE_NONE", "CONFIG_LOCK_DOWN_IN_EFI_SECURE_BOOT",
    "CONFIG_KALLSYMS", "CONFIG_KALLSYMS_ALL", "CONFIG_PRINTK", "CONFIG_PRINTK_TIME",
    "CONFIG_CONSOLE_LOGLEVEL_DEFAULT", "CONFIG_MESSAGE_LOGLEVEL_DEFAULT", "CONFIG_LOG_BUF_SHIFT",
    "CONFIG_DYNAMIC_DEBUG", "CONFIG_BUG", "CONFIG_DEBUG_LIST", "CONFIG_PANIC_ON_OOPS",
    "CONFIG_STACKPROTECTOR", "CONFIG_STACKPROTECTOR_STRONG", "CONFIG_FORTIFY_SOURCE",
    "CONFIG_RETPOLINE", "CONFIG_RETHUNK", "CONFIG_X86_KERNEL_IBT", "CONFIG_FUNCTION_TRACER",
    "CONFIG_DYNAMIC_FTRACE", "CONFIG_UNWINDER_ORC", "CONFIG_UNWINDER_FRAME_POINTER",
    "CONFIG_LIVEPATCH", "CONFIG_DEBUG_INFO_BTF_MODULES", "CONFIG_SLUB",
]


# -- reading the inputs ----------------------------------------------------------------------

@dataclass(frozen=True)
class MapSymbol:
    addr: int
    type: str
    name: str
    percpu: bool


@dataclass(frozen=True)
class SymversEntry:
    crc: int
    name: str
    exporter: str
    export_type: str
    namespace: str


# The key in the kernel's built-in keyring (its certificate is compiled into vmlinux, which
# ../shared does not carry): every one of the 4,023 modules of linux-image-6.1.0-56-amd64 is
# signed by it (kmodsim modinfo: signer and sig_key), and the real kernel loads them without
# the "module verification failed" taint.
KERNEL_SYMBOLS = ("do_one_initcall", "do_init_module", "__do_sys_finit_module",
                  "__do_sys_init_module", "__do_sys_delete_module", "do_syscall_64",
                  "entry_SYSCALL_64_after_hwframe", "dump_stack_lvl", "__x64_sys_finit_module")

# pages of RAM of the guest the real-kernel recordings ran in (-m 512), totalram_pages()
GUEST_TOTALRAM_PAGES = 116599

TRUSTED_KEYS = {
    "linux-6.1.0-56-amd64": [{"signer": "Build time autogenerated kernel key",
                              "key_id": "66f54e1566a043cc3030420e181cf850fb9f42ac"}],
    # all 4,135 modules of linux-image-6.1.0-50-686 are signed by this one (not run here:
    # realkernel boots amd64 only; the rule is the same)
    "linux-6.1.0-50-686": [{"signer": "Build time autogenerated kernel key",
                            "key_id": "6e6d60d47cff3456617d336486b205976a716053"}],
}


def read_xz(path: str | PathLike[str]) -> bytes:
    try:
        return lzma.decompress(Path(path).read_bytes())
    except (OSError, lzma.LZMAError) as exc:
        raise ProfileError(f"cannot read {path}: {exc}") from exc


def parse_system_map(text: str) -> list[MapSymbol]:
    """System.map lines ``addr type name``.  Per-CPU variables are the ones System.map lists
    between ``__per_cpu_start`` and ``__per_cpu_end`` (offsets into the per-CPU area);
    absolute symbols (``A``) that sort among them are not per-CPU."""
    symbols = []
    in_percpu = False
    for lineno, line in enumerate(text.splitlines(), 1):
        parts = line.split()
        if len(parts) != 3:
            raise ProfileError(f"System.map line {lineno}: expected 'addr type name': {line!r}")
        addr, sym_type, name = parts
        if name == "__per_cpu_start":
            in_percpu = True
        elif name == "__per_cpu_end":
            in_percpu = False
        symbols.append(MapSymbol(int(addr, 16), sym_type, name,
                                 in_percpu and sym_type not in "Aa"))
    return symbols


def parse_module_symvers(text: str) -> list[SymversEntry]:
    """Module.symvers: ``0xCRC name exporter EXPORT_SYMBOL[_GPL] namespace``, tab-separated."""
    entries = []
    for lineno, line in enumerate(text.splitlines(), 1):
        fields = line.split("\t")
        if len(fields) == 4:
            fields.append("")
        if len(fields) != 5 or fields[3] not in ("EXPORT_SYMBOL", "EXPORT_SYMBOL_GPL"):
            raise ProfileError(f"Module.symvers line {lineno}: unexpected {line!r}")
        crc, name, exporter, export_type, namespace = fields
        entries.append(SymversEntry(int(crc, 16), name, exporter, export_type, namespace))
    return entries


def parse_config(text: str) -> dict[str, str | None]:
    """``CONFIG_X=value`` -> {"CONFIG_X": "value"}; ``# CONFIG_X is not set`` -> None."""
    config: dict[str, str | None] = {}
    for line in text.splitlines():
        m = re.fullmatch(r"(CONFIG_\w+)=(.*)", line)
        if m:
            value = m.group(2)
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
            config[m.group(1)] = value
            continue
        m = re.fullmatch(r"# (CONFIG_\w+) is not set", line)
        if m:
            config[m.group(1)] = None
    return config


def config_facts(config: Mapping[str, str | None]) -> dict[str, str | None]:
    return {key: config.get(key) for key in CONFIG_KEYS}


def vermagic_from_config(release: str, config: Mapping[str, str | None]) -> str:
    """VERMAGIC_STRING (include/linux/vermagic.h, arch/x86/include/asm/vermagic.h)."""
    on = lambda key: config.get(key) == "y"  # noqa: E731
    parts = [release, " "]
    parts.append("SMP " if on("CONFIG_SMP") else "")
    parts.append("preempt " if on("CONFIG_PREEMPT_BUILD") else
                 "preempt_rt " if on("CONFIG_PREEMPT_RT") else "")
    parts.append("mod_unload " if on("CONFIG_MODULE_UNLOAD") else "")
    parts.append("modversions " if on("CONFIG_MODVERSIONS") else "")
    if on("CONFIG_X86_32"):
        parts.append(_x86_32_proc_family(config))
    return "".join(parts)


# MODULE_PROC_FAMILY, in the order of the #elif chain in arch/x86/include/asm/vermagic.h.
_PROC_FAMILY = [
    ("CONFIG_M486SX", "486SX "), ("CONFIG_M486", "486 "), ("CONFIG_M586", "586 "),
    ("CONFIG_M586TSC", "586TSC "), ("CONFIG_M586MMX", "586MMX "), ("CONFIG_MCORE2", "CORE2 "),
    ("CONFIG_MATOM", "ATOM "), ("CONFIG_M686", "686 "), ("CONFIG_MPENTIUMII", "PENTIUMII "),
    ("CONFIG_MPENTIUMIII", "PENTIUMIII "), ("CONFIG_MPENTIUMM", "PENTIUMM "),
    ("CONFIG_MPENTIUM4", "PENTIUM4 "), ("CONFIG_MK6", "K6 "), ("CONFIG_MK7", "K7 "),
    ("CONFIG_MK8", "K8 "), ("CONFIG_MELAN", "ELAN "), ("CONFIG_MCRUSOE", "CRUSOE "),
    ("CONFIG_MEFFICEON", "EFFICEON "), ("CONFIG_MWINCHIPC6", "WINCHIPC6 "),
    ("CONFIG_MWINCHIP3D", "WINCHIP3D "), ("CONFIG_MCYRIXIII", "CYRIXIII "),
    ("CONFIG_MVIAC3_2", "VIAC3-2 "), ("CONFIG_MVIAC7", "VIAC7 "),
    ("CONFIG_MGEODEGX1", "GEODEGX1 "), ("CONFIG_MGEODE_LX", "GEODE "),
]


def _x86_32_proc_family(config):
    for key, family in _PROC_FAMILY:
        if config.get(key) == "y":
            return family
    raise ProfileError("config: unknown i386 processor family (no CONFIG_M* set)")


def checks_from_config(config: Mapping[str, str | None]) -> Json:
    on = lambda key: config.get(key) == "y"  # noqa: E731
    signature = ("enforce" if on("CONFIG_MODULE_SIG_FORCE") else
                 "permissive" if on("CONFIG_MODULE_SIG") else "none")
    return {"vermagic": True, "modversions": on("CONFIG_MODVERSIONS"), "license": True,
            "signature": signature}


# -- struct facts from BTF -------------------------------------------------------------------

def struct_facts(btf: Btf, spec: Mapping[str, str | Sequence[str]] = STRUCT_SPEC,
                 required: Mapping[str, Collection[str]] = REQUIRED_FIELDS) -> dict[str, Json]:
    """{struct: {"size": n, "fields": {member: field record}}} for the members in ``spec``."""
    structs: dict[str, Json] = {}
    for struct_name, members in spec.items():
        names = btf.member_names(struct_name) if members == "*" else members
        fields = {}
        for member in names:
            try:
                fields[member] = field_record(btf, btf.member(struct_name, member))
            except ProfileError:
                if member in required.get(struct_name, ()):
                    raise
        structs[struct_name] = {"size": btf.sizeof_struct(struct_name), "fields": fields}
    for struct_name, wanted in required.items():
        missing = [m for m in wanted if m not in structs[struct_name]["fields"]]
        if missing:
            raise ProfileError(f"BTF: {struct_name} lacks required members {missing}")
    return structs


def field_record(btf: Btf, field: Field) -> Json:
    record: Json = {"offset": field.offset, "size": field.size}
    if field.is_bitfield:
        record["bit_offset"] = field.bit_offset
        record["bit_size"] = field.bitfield_size
    record["type"] = btf.type_name(field.type_id)
    inner = btf.resolve(field.type_id)
    if inner.kind in (BtfKind.BTF_KIND_STRUCT, BtfKind.BTF_KIND_UNION) and inner.name:
        record["struct"] = inner.name
    return record


def literal_structs(table: Mapping[str, tuple[int, Mapping[str, tuple[int, int, str]]]]
                    ) -> dict[str, Json]:
    """{struct: (size, {member: (offset, size, C type)})} -> the JSON shape of ``structs``."""
    structs = {}
    for name, (size, fields) in table.items():
        records: dict[str, Json] = {}
        for member, (offset, nbytes, ctype) in fields.items():
            records[member] = {"offset": offset, "size": nbytes, "type": ctype}
            if re.fullmatch(r"struct \w+", ctype):
                records[member]["struct"] = ctype.split()[1]
        structs[name] = {"size": size, "fields": records}
    return structs


def descriptor_from(structs: Mapping[str, Json], section: str, struct_name: str,
                    field_names: Iterable[str]) -> Json:
    s = structs[struct_name]
    return {"section": section, "struct": struct_name, "size": s["size"],
            "fields": {f: {k: s["fields"][f][k] for k in ("offset", "size")}
                       for f in field_names}}


# -- exports ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class ExportRow:
    name: str
    addr: int | None
    crc: int | None
    gpl_only: bool
    percpu: bool
    namespace: str
    exporter: str


def build_exports(symvers: Iterable[SymversEntry],
                  system_map: Iterable[MapSymbol] | None = None) -> list[ExportRow]:
    """One row per Module.symvers line, with the vmlinux address when System.map has it."""
    by_name: dict[str, MapSymbol] = {}
    if system_map is not None:
        for sym in system_map:
            # A name can be both a global and a file-local symbol (kern_path is a T and a d):
            # an export is always the global one.
            old = by_name.get(sym.name)
            if old is None or (old.type.islower() and sym.type.isupper()):
                by_name[sym.name] = sym
    rows: dict[str, ExportRow] = {}
    for e in symvers:
        if e.name in rows:
            raise ProfileError(f"Module.symvers: {e.name} is exported twice")
        found = by_name.get(e.name) if e.exporter == "vmlinux" else None
        if system_map is not None and e.exporter == "vmlinux" and found is None:
            raise ProfileError(f"System.map has no address for vmlinux export {e.name}")
        rows[e.name] = ExportRow(e.name, found.addr if found else None, e.crc,
                                 e.export_type == "EXPORT_SYMBOL_GPL",
                                 bool(found and found.percpu), e.namespace, e.exporter)
    return [rows[name] for name in sorted(rows)]


def render_exports(rows: Iterable[ExportRow], addr_width: int) -> str:
    out = [EXPORTS_HEADER]
    for r in rows:
        addr = "" if r.addr is None else f"{r.addr:0{addr_width}x}"
        crc = "" if r.crc is None else f"{r.crc:08x}"
        flags = ("G" if r.gpl_only else "") + ("P" if r.percpu else "")
        out.append(f"{r.name}\t{addr}\t{crc}\t{flags}\t{r.namespace}\t{r.exporter}\n")
    return "".join(out)


def bindings_for(export_names: Collection[str], strict: bool,
                 vmlinux: Collection[str] | None = None) -> dict[str, str]:
    """The builtin bindings for the exports a profile has.  ``strict``: every listed name
    must be exported (true for the reference kernel, so the table cannot rot).  The static
    calls and no-ops bind only what ``vmlinux`` exports (default: every export), never a
    module's export."""
    vmlinux = export_names if vmlinux is None else vmlinux
    bindings = {}
    for group, names in BUILTIN_GROUPS.items():
        for name in names:
            if name in export_names:
                bindings[name] = f"builtin:{group}.{name}"
            elif strict:
                raise ProfileError(f"binding table names {name}, which the kernel does not export")
    for group, pattern in BUILTIN_PATTERNS.items():
        for name in export_names:
            if pattern.fullmatch(name):
                bindings[name] = f"builtin:{group}.{name}"
    for name, target in STATIC_CALL_BINDINGS.items():
        if name in vmlinux:
            bindings[name] = f"builtin:{target}"
        elif strict:
            raise ProfileError(f"static call table names {name}, which vmlinux does not export")
    for name in NOOP_EXPORTS:
        if name in vmlinux:
            bindings[name] = f"builtin:noop.{name}"
        elif strict:
            raise ProfileError(f"no-op table names {name}, which vmlinux does not export")
    for pattern in NOOP_PATTERNS:
        for name in vmlinux:
            if pattern.fullmatch(name):
                bindings[name] = f"builtin:noop.{name}"
    return dict(sorted(bindings.items()))


# -- the three profiles ----------------------------------------------------------------------

@dataclass
class ProfileFiles:
    """What one profile writes: its JSON header and the side files it names."""

    name: str
    header: Json
    side_files: dict[str, bytes]  # file name -> bytes


def _hex(value):
    return None if value is None else f"0x{value:x}"


def _provenance(shared, paths):
    inputs = {}
    for path in paths:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        inputs[path.relative_to(shared).as_posix()] = f"sha256:{digest}"
    return {"generator": "python -m linker.profiles.generate", "inputs": inputs}


def linux_amd64_profile(shared: Path) -> ProfileFiles:
    kdir = shared / "kernel" / "debian-6.1.0-56-amd64"
    inputs = [kdir / n for n in ("System.map.xz", "Module.symvers.xz", "vmlinux.btf.xz", "config.xz")]
    map_text = read_xz(inputs[0]).decode()
    system_map = parse_system_map(map_text)
    symvers = parse_module_symvers(read_xz(inputs[1]).decode())
    btf = parse_btf(read_xz(inputs[2]))
    config = parse_config(read_xz(inputs[3]).decode())

    release = "6.1.0-56-amd64"
    vermagic = vermagic_from_config(release, config)
    structs = struct_facts(btf)
    exports = build_exports(symvers, system_map)
    addr = {s.name: s.addr for s in system_map}
    start, end = AMD64_MODULE_AREA
    if config.get("CONFIG_DEBUG_KMAP_LOCAL_FORCE_MAP") == "y":
        raise ProfileError("config: MODULES_END moves with CONFIG_DEBUG_KMAP_LOCAL_FORCE_MAP")
    name = AMD64
    header = {
        "format": FORMAT_VERSION,
        "name": name,
        "description": "Debian 12 kernel 6.1.0-56-amd64 (package 6.1.192-2), booted nokaslr",
        "kind": "linux",
        "arch": "x86_64",
        "machine": "x86_64",
        "elf_class": 64,
        "e_machine": 62,
        "endian": "little",
        "calling_convention": "sysv",
        "release": release,
        "version": UNAME_VERSION[name],
        "vermagic": vermagic,
        "runnable": True,
        "not_runnable_reason": None,
        "checks": checks_from_config(config),
        "page_size": 4096,
        "module_area": {"start": _hex(start), "end": _hex(end)},
        "kernel_text": {"start": _hex(addr["_stext"]), "end": _hex(addr["_etext"])},
        "kernel_image": {"start": _hex(addr["_text"]), "end": _hex(addr["_end"])},
        # kernel functions the emulator returns into or names in call traces
        "kernel_symbols": {n: _hex(addr[n]) for n in KERNEL_SYMBOLS if n in addr},
        # modules' per-CPU data comes from the reserved chunk right after the static area
        "percpu_module_base": _hex(addr["__per_cpu_end"]),
        # the reference guest's RAM (QEMU -m 512: MemTotal 466396 kB), what vmalloc compares a
        # module's allocation with (tests/realkernel/bigbss)
        "totalram_pages": GUEST_TOTALRAM_PAGES,
        "trusted_keys": TRUSTED_KEYS.get(name, []),
        "descriptor": descriptor_from(structs, ".gnu.linkonce.this_module", "module",
                                      DESCRIPTOR_FIELDS),
        "exports_file": f"{name}.exports.tsv",
        "kallsyms_file": f"{name}.kallsyms.gz",
        "bindings": bindings_for({r.name for r in exports}, strict=True,
                                 vmlinux={r.name for r in exports if r.exporter == "vmlinux"}),
        "config": config_facts(config),
        "structs": structs,
        "source": _provenance(shared, inputs),
    }
    side = {
        header["exports_file"]: render_exports(exports, 16).encode(),
        header["kallsyms_file"]: gzip_bytes(map_text.encode()),
    }
    return ProfileFiles(name, header, side)


def linux_686_profile(shared: Path) -> ProfileFiles:
    kdir = shared / "kernel" / "debian-6.1.0-50-686"
    inputs = [kdir / n for n in ("Module.symvers.xz", "config.xz")]
    symvers = parse_module_symvers(read_xz(inputs[0]).decode())
    config = parse_config(read_xz(inputs[1]).decode())

    release = "6.1.0-50-686"
    structs = literal_structs(I686_STRUCTS)
    if config.get("CONFIG_HAVE_ARCH_PREL32_RELOCATIONS") == "y":
        # include/linux/export.h: with PREL32 relocations every field is an int offset.
        structs["kernel_symbol"] = literal_structs({"kernel_symbol": (12, {
            "value_offset": (0, 4, "int"), "name_offset": (4, 4, "int"),
            "namespace_offset": (8, 4, "int")})})["kernel_symbol"]
    exports = build_exports(symvers)
    name = I686
    header = {
        "format": FORMAT_VERSION,
        "name": name,
        "description": "Debian 12 kernel 6.1.0-50-686 (package 6.1.176-1), i386: for linking only",
        "kind": "linux",
        "arch": "i386",
        "machine": "i686",
        "elf_class": 32,
        "e_machine": 3,
        "endian": "little",
        "calling_convention": "regparm3",
        "release": release,
        "version": UNAME_VERSION[name],
        "vermagic": vermagic_from_config(release, config),
        "runnable": False,
        "not_runnable_reason": ("no System.map or BTF for this kernel in the profile inputs: "
                                "exports carry CRCs but no addresses, so a module can be "
                                "checked and linked against it but not run"),
        "checks": checks_from_config(config),
        "page_size": 4096,
        # MODULES_VADDR is VMALLOC_START = high_memory + 8 MiB: it depends on the RAM size
        # at boot (arch/x86/include/asm/pgtable_32_areas.h), so there is no fixed value.
        "module_area": None,
        "kernel_text": None,
        "trusted_keys": TRUSTED_KEYS.get(name, []),
        "descriptor": descriptor_from(structs, ".gnu.linkonce.this_module", "module",
                                      DESCRIPTOR_FIELDS),
        "exports_file": f"{name}.exports.tsv",
        "kallsyms_file": None,
        "bindings": bindings_for({r.name for r in exports}, strict=False,
                                 vmlinux={r.name for r in exports if r.exporter == "vmlinux"}),
        "config": config_facts(config),
        "structs": structs,
        "source": _provenance(shared, inputs),
    }
    side = {header["exports_file"]: render_exports(exports, 8).encode()}
    return ProfileFiles(name, header, side)


def hobby_profile() -> ProfileFiles:
    """Seed 004's hobby kernel: a literal, since there is no kernel build to read."""
    module_t: Json = {"size": 8, "fields": {
        "init": {"offset": 0, "size": 4, "type": "int (*)(void)"},
        "exit": {"offset": 4, "size": 4, "type": "void (*)(void)"}}}
    start, end = HOBBY_MODULE_AREA
    header = {
        "format": FORMAT_VERSION,
        "name": HOBBY,
        "description": ("Seed 004's hobby kernel: loads an ELF32 .o with a .this_module "
                        "{init, exit} descriptor, knows one kernel symbol (monitor_write)"),
        "kind": "hobby",
        "arch": "i386",
        "machine": "i386",
        "elf_class": 32,
        "e_machine": 3,
        "endian": "little",
        "calling_convention": "cdecl",
        "release": None,
        "version": None,
        "vermagic": None,
        "runnable": True,
        "not_runnable_reason": None,
        "checks": {"vermagic": False, "modversions": False, "license": False,
                   "signature": "none"},
        "page_size": 4096,
        "module_area": {"start": f"0x{start:08x}", "end": f"0x{end:08x}"},
        "kernel_text": {"start": "0x00100000", "end": "0x00200000"},
        "descriptor": {"section": ".this_module", "struct": "module_t", "size": 8,
                       "fields": {k: {"offset": v["offset"], "size": v["size"]}
                                  for k, v in module_t["fields"].items()}},
        "exports_file": None,
        "kallsyms_file": None,
        "exports": {"monitor_write": {"addr": f"0x{HOBBY_MONITOR_WRITE_ADDR:08x}", "crc": None,
                                      "gpl_only": False, "namespace": None,
                                      "exporter": "kernel", "percpu": False}},
        "bindings": {"monitor_write": "builtin:console.monitor_write"},
        "config": {},
        "structs": {"module_t": module_t},
        "source": {"generator": "python -m linker.profiles.generate",
                   "inputs": {"seeds/004_472ecc25fe120f2e.txt": "described, not parsed"}},
    }
    return ProfileFiles(HOBBY, header, {})


# -- writing ---------------------------------------------------------------------------------

def gzip_bytes(data: bytes) -> bytes:
    """gzip with no file name and mtime 0, so the bytes depend only on ``data``."""
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, compresslevel=9, mtime=0) as f:
        f.write(data)
    return buf.getvalue()


def render_json(value: object, indent: int = 0) -> str:
    """JSON with one key per line, but small flat objects (a field record) on one line."""
    pad = " " * indent
    if isinstance(value, dict) and value:
        flat = json.dumps(value, ensure_ascii=False)
        if all(not isinstance(v, (dict, list)) for v in value.values()) and len(flat) + indent <= 100:
            return flat
        items = [f'{pad}  {json.dumps(k)}: {render_json(v, indent + 2)}' for k, v in value.items()]
        return "{\n" + ",\n".join(items) + f"\n{pad}}}"
    return json.dumps(value, ensure_ascii=False)


def profile_outputs(files: ProfileFiles) -> dict[str, bytes]:
    """file name -> bytes for one profile (its header JSON and side files)."""
    out = {f"{files.name}.json": (render_json(files.header) + "\n").encode()}
    out.update(files.side_files)
    return out


def build_all(shared: str | PathLike[str]) -> dict[str, bytes]:
    shared = Path(shared)
    if not (shared / "kernel").is_dir():
        raise ProfileError(f"no kernel inputs under {shared} (expected {shared}/kernel/)")
    outputs: dict[str, bytes] = {}
    for files in (linux_amd64_profile(shared), linux_686_profile(shared), hobby_profile()):
        outputs.update(profile_outputs(files))
    return outputs


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m linker.profiles.generate",
                                     description="Regenerate the shipped kernel profiles.")
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED,
                        help="the shared/ folder holding kernel/ (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=DATA_DIR,
                        help="where to write the profiles (default: %(default)s)")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 if any file would change")
    args = parser.parse_args(argv)
    try:
        outputs = build_all(args.shared)
    except ProfileError as exc:
        print(f"generate: {exc}", file=sys.stderr)
        return 2
    stale = []
    for name, data in sorted(outputs.items()):
        path = args.out / name
        if path.exists() and path.read_bytes() == data:
            continue
        stale.append(name)
        if not args.check:
            args.out.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    verb = "stale" if args.check else "wrote"
    for name in stale:
        print(f"{verb} {args.out / name} ({len(outputs[name]):,} bytes)")
    if not stale:
        print(f"{len(outputs)} files up to date in {args.out}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
