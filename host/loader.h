/* Finding, opening and validating modules (libltdl).
 *
 * Modules are opened only by absolute, canonical path to a `.so` found in a
 * known folder; never a `.la`, never a bare name through LTDL_LIBRARY_PATH or
 * LD_LIBRARY_PATH, never the current directory. A module file or folder that
 * others could write to is refused. Modules stay resident for the life of
 * the process: packets they wrapped may outlive their instances, and the
 * libraries they pull in keep global state. */
#ifndef SC_HOST_LOADER_H
#define SC_HOST_LOADER_H

#include <glib.h>
#include <ltdl.h>
#include <stdbool.h>
#include <streamcut/module.h>

/** Sizes of the ABI 1.0 structs: the least a 1.x module may declare. */
#define SC_SOURCE_OPS_MIN_SIZE (offsetof(sc_source_ops, stop) + sizeof(void (*)(void)))
#define SC_STRATEGY_OPS_MIN_SIZE (offsetof(sc_strategy_ops, stop) + sizeof(void (*)(void)))
#define SC_SINK_OPS_MIN_SIZE (offsetof(sc_sink_ops, stop) + sizeof(void (*)(void)))
#define SC_OBSERVER_OPS_MIN_SIZE (offsetof(sc_observer_ops, stop) + sizeof(void (*)(void)))
#define SC_OPTION_SPEC_MIN_SIZE (offsetof(sc_option_spec, choices) + sizeof(const char *))

typedef struct sc_module {
    char *path;                        /* canonical path of the .so */
    lt_dlhandle handle;
    sc_module_descriptor descriptor;   /* host-sized, zero-extended copy */
    sc_option_spec *options;           /* host-sized copies, `option_count` of them */
    size_t option_count;
    union {
        sc_source_ops source;
        sc_strategy_ops strategy;
        sc_sink_ops sink;
        sc_observer_ops observer;
    } ops;                             /* host-sized, zero-extended copy */
} sc_module;

typedef struct sc_loader {
    GPtrArray *folders;    /* char*, in search order */
    GPtrArray *modules;    /* sc_module*, every module opened */
    bool from_build_tree;
} sc_loader;

/** A loader searching, in order: `extra_folders` (NULL-terminated, may be
 * NULL; e.g. [host] module_path), STREAMCUT_MODULE_PATH, then the build tree
 * when this program runs from it, else the installed module folder. */
sc_loader *sc_loader_new(const char *const *extra_folders);
void sc_loader_free(sc_loader *loader);
/** Append a folder to the search path. */
void sc_loader_add_folder(sc_loader *loader, const char *folder);

/** The module named `name` (file NAME.so in the search folders). On failure
 * NULL and *error (g_free) is one line naming the file and the reason. */
sc_module *sc_loader_find(sc_loader *loader, const char *name, char **error);
/** Open one module file (absolute path). */
sc_module *sc_loader_open(sc_loader *loader, const char *path, char **error);
/** Every module file in the search folders; failures go to `errors`. */
GPtrArray *sc_loader_find_all(sc_loader *loader, GPtrArray *errors);

const char *sc_module_kind_name(uint32_t kind);
const sc_option_spec *sc_module_find_option(const sc_module *module, const char *name);
const char *sc_option_type_name(uint32_t type);

#endif
