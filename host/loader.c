#include "loader.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "build_paths.h"
#include "log.h"
#include "value.h"

#ifndef SC_MODULE_INSTALL_DIR
#error "SC_MODULE_INSTALL_DIR must be defined by the build"
#endif
#ifndef SC_BUILD_TOP_DIR
#error "SC_BUILD_TOP_DIR must be defined by the build"
#endif

const char *sc_module_kind_name(uint32_t kind)
{
    switch (kind) {
    case SC_MODULE_SOURCE: return "source";
    case SC_MODULE_STRATEGY: return "strategy";
    case SC_MODULE_SINK: return "sink";
    case SC_MODULE_OBSERVER: return "observer";
    default: return "unknown";
    }
}

const char *sc_option_type_name(uint32_t type)
{
    switch (type) {
    case SC_OPT_STRING: return "string";
    case SC_OPT_INT: return "integer";
    case SC_OPT_DOUBLE: return "number";
    case SC_OPT_BOOL: return "boolean";
    case SC_OPT_DURATION: return "duration";
    case SC_OPT_SIZE: return "size";
    case SC_OPT_ENUM: return "choice";
    default: return "unknown";
    }
}

/* Whether this process is the binary (or a test) inside the build tree. */
static bool running_from_build_tree(void)
{
    char exe[PATH_MAX];
    ssize_t length = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (length <= 0) return false;
    exe[length] = '\0';
    char top[PATH_MAX];
    if (!realpath(SC_BUILD_TOP_DIR, top)) return false;
    size_t top_length = strlen(top);
    return strncmp(exe, top, top_length) == 0 && exe[top_length] == '/';
}

void sc_loader_add_folder(sc_loader *loader, const char *folder)
{
    if (folder && *folder) g_ptr_array_add(loader->folders, g_strdup(folder));
}

sc_loader *sc_loader_new(const char *const *extra_folders)
{
    sc_loader *loader = g_new0(sc_loader, 1);
    loader->folders = g_ptr_array_new_with_free_func(g_free);
    loader->modules = g_ptr_array_new();
    /* Module paths are always absolute, so the ltdl search path never
     * applies; clearing it keeps a stray variable from mattering. */
    g_unsetenv("LTDL_LIBRARY_PATH");
    /* Once per process and never undone: modules are resident (a module may
     * leave threads or atexit handlers, and libraries it pulls in keep global
     * state), and lt_dlexit would orphan their handles. */
    static gsize initialized = 0;
    if (g_once_init_enter(&initialized)) {
        lt_dlinit();
        g_once_init_leave(&initialized, 1);
    }
    for (const char *const *f = extra_folders; f && *f; f++) sc_loader_add_folder(loader, *f);
    const char *env = g_getenv("STREAMCUT_MODULE_PATH");
    if (env) {
        char **parts = g_strsplit(env, ":", -1);
        for (char **p = parts; *p; p++) sc_loader_add_folder(loader, *p);
        g_strfreev(parts);
    }
    loader->from_build_tree = running_from_build_tree();
    if (loader->from_build_tree) {
        char *modules_dir = g_build_filename(SC_BUILD_TOP_DIR, "modules", NULL);
        GDir *dir = g_dir_open(modules_dir, 0, NULL);
        if (dir) {
            GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
            const char *name;
            while ((name = g_dir_read_name(dir))) g_ptr_array_add(names, g_strdup(name));
            g_ptr_array_sort(names, (GCompareFunc)(void *)g_strcmp0);
            for (guint i = 0; i < names->len; i++) {
                char *libs = g_build_filename(modules_dir, g_ptr_array_index(names, i), ".libs", NULL);
                if (g_file_test(libs, G_FILE_TEST_IS_DIR)) sc_loader_add_folder(loader, libs);
                g_free(libs);
            }
            g_ptr_array_free(names, TRUE);
            g_dir_close(dir);
        }
        g_free(modules_dir);
    } else {
        sc_loader_add_folder(loader, SC_MODULE_INSTALL_DIR);
    }
    return loader;
}

static void free_module(sc_module *module)
{
    g_free(module->path);
    g_free(module->options);
    g_free(module);
}

void sc_loader_free(sc_loader *loader)
{
    if (!loader) return;
    for (guint i = 0; i < loader->modules->len; i++) free_module(g_ptr_array_index(loader->modules, i));
    g_ptr_array_free(loader->modules, TRUE);
    g_ptr_array_free(loader->folders, TRUE);
    g_free(loader);
}

/* Refuse files and folders that someone other than root or us could have
 * written: loading one runs that person's code as us. */
static bool check_ownership(const char *path, const struct stat *info, bool is_folder, char **error)
{
    if (info->st_uid != 0 && info->st_uid != geteuid()) {
        *error = g_strdup_printf("%s: refused: %s is owned by uid %u, not root or this user",
                                 path, is_folder ? "module folder" : "module file", (unsigned)info->st_uid);
        return false;
    }
    if (info->st_mode & (S_IWGRP | S_IWOTH)) {
        *error = g_strdup_printf("%s: refused: %s is group- or world-writable (mode %04o)",
                                 path, is_folder ? "module folder" : "module file",
                                 (unsigned)(info->st_mode & 07777));
        return false;
    }
    return true;
}

static bool options_valid(sc_module *module, const sc_module_descriptor *raw, char **error)
{
    if (!raw->options) return true;
    uint32_t stride = raw->option_spec_size;
    if (stride < SC_OPTION_SPEC_MIN_SIZE) {
        *error = g_strdup_printf("%s: refused: option_spec_size %u is smaller than ABI 1.0's %zu",
                                 module->path, stride, (size_t)SC_OPTION_SPEC_MIN_SIZE);
        return false;
    }
    const unsigned char *base = (const unsigned char *)raw->options;
    size_t count = 0;
    while (count < 512) {
        const sc_option_spec *spec = (const sc_option_spec *)(const void *)(base + count * stride);
        if (!spec->name) break;
        count++;
    }
    if (count == 512) {
        *error = g_strdup_printf("%s: refused: option schema is not terminated by a NULL name", module->path);
        return false;
    }
    module->options = g_new0(sc_option_spec, count + 1);
    module->option_count = count;
    for (size_t i = 0; i < count; i++) {
        memcpy(&module->options[i], base + i * stride, MIN((size_t)stride, sizeof(sc_option_spec)));
        const sc_option_spec *spec = &module->options[i];
        const char *why = NULL;
        if (spec->type < SC_OPT_STRING || spec->type > SC_OPT_ENUM) why = "unknown type";
        else if (spec->type == SC_OPT_ENUM && (!spec->choices || !*spec->choices)) why = "a choice option without choices";
        else if (spec->default_value) {
            const char *reason;
            bool b; int64_t i64; double d;
            bool ok = true;
            switch (spec->type) {
            case SC_OPT_INT: ok = sc_value_parse_int(spec->default_value, &i64, &reason); break;
            case SC_OPT_DOUBLE: ok = sc_value_parse_double(spec->default_value, &d, &reason); break;
            case SC_OPT_BOOL: ok = sc_value_parse_bool(spec->default_value, &b, &reason); break;
            case SC_OPT_DURATION: ok = sc_value_parse_duration(spec->default_value, &i64, &reason); break;
            case SC_OPT_SIZE: ok = sc_value_parse_size(spec->default_value, &i64, &reason); break;
            case SC_OPT_ENUM: ok = sc_value_is_choice(spec->default_value, spec->choices); break;
            default: break;
            }
            if (!ok) why = "a default value that does not parse";
        }
        if (why) {
            *error = g_strdup_printf("%s: refused: option '%s' has %s", module->path, spec->name, why);
            return false;
        }
    }
    return true;
}

static bool ops_valid(sc_module *module, const sc_module_descriptor *raw, char **error)
{
    const uint32_t *declared_size = raw->ops;
    size_t minimum = 0, host_size = 0;
    switch (raw->kind) {
    case SC_MODULE_SOURCE: minimum = SC_SOURCE_OPS_MIN_SIZE; host_size = sizeof(sc_source_ops); break;
    case SC_MODULE_STRATEGY: minimum = SC_STRATEGY_OPS_MIN_SIZE; host_size = sizeof(sc_strategy_ops); break;
    case SC_MODULE_SINK: minimum = SC_SINK_OPS_MIN_SIZE; host_size = sizeof(sc_sink_ops); break;
    case SC_MODULE_OBSERVER:
        if (raw->abi_minor < 1) {
            *error = g_strdup_printf("%s: refused: observer modules exist since ABI 1.1, it claims 1.%u",
                                     module->path, raw->abi_minor);
            return false;
        }
        minimum = SC_OBSERVER_OPS_MIN_SIZE;
        host_size = sizeof(sc_observer_ops);
        break;
    default:
        *error = g_strdup_printf("%s: refused: unknown module kind %u", module->path, raw->kind);
        return false;
    }
    if (!declared_size) {
        *error = g_strdup_printf("%s: refused: descriptor has no ops table", module->path);
        return false;
    }
    if (*declared_size < minimum) {
        *error = g_strdup_printf("%s: refused: %s ops table is %u bytes, ABI 1.%d needs at least %zu",
                                 module->path, sc_module_kind_name(raw->kind), *declared_size,
                                 raw->kind == SC_MODULE_OBSERVER ? 1 : 0, minimum);
        return false;
    }
    memcpy(&module->ops, raw->ops, MIN((size_t)*declared_size, host_size));
    const char *missing = NULL;
    switch (raw->kind) {
    case SC_MODULE_SOURCE:
        if (!module->ops.source.create) missing = "create";
        else if (!module->ops.source.destroy) missing = "destroy";
        else if (!module->ops.source.run) missing = "run";
        break;
    case SC_MODULE_STRATEGY:
        if (!module->ops.strategy.create) missing = "create";
        else if (!module->ops.strategy.destroy) missing = "destroy";
        else if (!module->ops.strategy.packet) missing = "packet";
        break;
    case SC_MODULE_OBSERVER:
        if (!module->ops.observer.create) missing = "create";
        else if (!module->ops.observer.destroy) missing = "destroy";
        else if (!module->ops.observer.packet && !module->ops.observer.segment) missing = "packet or segment";
        break;
    default:
        if (!module->ops.sink.create) missing = "create";
        else if (!module->ops.sink.destroy) missing = "destroy";
        else if (!module->ops.sink.consume) missing = "consume";
        break;
    }
    if (missing) {
        *error = g_strdup_printf("%s: refused: required operation '%s' is missing", module->path, missing);
        return false;
    }
    return true;
}

static bool valid_module_name(const char *name)
{
    if (!name || !*name || strlen(name) > 48) return false;
    for (const char *p = name; *p; p++)
        if (!g_ascii_islower(*p) && !g_ascii_isdigit(*p) && *p != '_' && *p != '-') return false;
    return true;
}

sc_module *sc_loader_open(sc_loader *loader, const char *path, char **error)
{
    *error = NULL;
    if (!g_path_is_absolute(path)) {
        *error = g_strdup_printf("%s: refused: module paths must be absolute", path);
        return NULL;
    }
    if (!g_str_has_suffix(path, ".so")) {
        *error = g_strdup_printf("%s: refused: only .so files are loaded", path);
        return NULL;
    }
    char canonical[PATH_MAX];
    if (!realpath(path, canonical)) {
        *error = g_strdup_printf("%s: %s", path, g_strerror(errno));
        return NULL;
    }
    for (guint i = 0; i < loader->modules->len; i++) {
        sc_module *known = g_ptr_array_index(loader->modules, i);
        if (strcmp(known->path, canonical) == 0) return known;
    }
    struct stat info;
    if (lstat(path, &info) != 0 || !S_ISREG(info.st_mode)) {
        *error = g_strdup_printf("%s: refused: not a regular file (symbolic links are not followed)", path);
        return NULL;
    }
    if (!check_ownership(path, &info, false, error)) return NULL;
    char *folder = g_path_get_dirname(canonical);
    bool folder_ok = stat(folder, &info) == 0 && check_ownership(folder, &info, true, error);
    if (!folder_ok && !*error) *error = g_strdup_printf("%s: %s", folder, g_strerror(errno));
    g_free(folder);
    if (!folder_ok) return NULL;

    lt_dladvise advise;
    lt_dladvise_init(&advise);
    lt_dladvise_local(&advise);
    lt_dladvise_resident(&advise);
    lt_dlhandle handle = lt_dlopenadvise(canonical, advise);
    lt_dladvise_destroy(&advise);
    if (!handle) {
        const char *reason = lt_dlerror();
        *error = g_strdup_printf("%s: cannot load: %s (missing dependencies? try ldd)", canonical,
                                 reason ? reason : "unknown error");
        return NULL;
    }
    sc_module *module = g_new0(sc_module, 1);
    module->path = g_strdup(canonical);
    module->handle = handle;
    sc_module_entry_fn entry = (sc_module_entry_fn)(uintptr_t)lt_dlsym(handle, SC_ENTRY_SYMBOL);
    const sc_module_descriptor *raw = entry ? entry() : NULL;
    if (!entry) {
        *error = g_strdup_printf("%s: refused: no entry symbol %s (not a streamcut module)", canonical, SC_ENTRY_SYMBOL);
    } else if (!raw) {
        *error = g_strdup_printf("%s: refused: %s returned no descriptor", canonical, SC_ENTRY_SYMBOL);
    } else if (raw->struct_size < SC_DESCRIPTOR_MIN_SIZE) {
        *error = g_strdup_printf("%s: refused: descriptor is %u bytes, ABI 1.0 needs at least %zu",
                                 canonical, raw->struct_size, (size_t)SC_DESCRIPTOR_MIN_SIZE);
    } else if (raw->abi_major != SC_ABI_MAJOR) {
        *error = g_strdup_printf("%s: refused: built for module ABI %u.%u, this host provides ABI %d.%d (rebuild the module)",
                                 canonical, raw->abi_major, raw->abi_minor, SC_ABI_MAJOR, SC_ABI_MINOR);
    } else if (raw->abi_minor > SC_ABI_MINOR) {
        *error = g_strdup_printf("%s: refused: built for module ABI %u.%u, newer than this host's %d.%d (upgrade streamcut)",
                                 canonical, raw->abi_major, raw->abi_minor, SC_ABI_MAJOR, SC_ABI_MINOR);
    } else if (!valid_module_name(raw->name)) {
        *error = g_strdup_printf("%s: refused: module name must be 1-48 characters of [a-z0-9_-]", canonical);
    } else if (!raw->version || !raw->description) {
        *error = g_strdup_printf("%s: refused: descriptor lacks a version or description", canonical);
    } else {
        memcpy(&module->descriptor, raw, MIN((size_t)raw->struct_size, sizeof(sc_module_descriptor)));
        if (ops_valid(module, raw, error) && options_valid(module, raw, error)) {
            g_ptr_array_add(loader->modules, module);
            sc_log(SC_LOG_DEBUG, NULL, "loaded module %s %s (%s, ABI %u.%u) from %s", raw->name,
                   raw->version, sc_module_kind_name(raw->kind), raw->abi_major, raw->abi_minor, canonical);
            return module;
        }
    }
    free_module(module);
    return NULL;
}

sc_module *sc_loader_find(sc_loader *loader, const char *name, char **error)
{
    *error = NULL;
    for (guint i = 0; i < loader->modules->len; i++) {
        sc_module *known = g_ptr_array_index(loader->modules, i);
        if (strcmp(known->descriptor.name, name) == 0) return known;
    }
    if (!valid_module_name(name)) {
        *error = g_strdup_printf("'%s' is not a valid module name", name);
        return NULL;
    }
    for (guint i = 0; i < loader->folders->len; i++) {
        const char *folder = g_ptr_array_index(loader->folders, i);
        char *file = g_strconcat(name, ".so", NULL);
        char *path = g_build_filename(folder, file, NULL);
        g_free(file);
        if (!g_path_is_absolute(path)) {
            char *cwd = g_get_current_dir();
            char *absolute = g_build_filename(cwd, path, NULL);
            g_free(cwd);
            g_free(path);
            path = absolute;
        }
        if (g_file_test(path, G_FILE_TEST_EXISTS)) {
            sc_module *module = sc_loader_open(loader, path, error);
            if (module && strcmp(module->descriptor.name, name) != 0) {
                *error = g_strdup_printf("%s: refused: file is named %s but the module calls itself '%s'",
                                         module->path, name, module->descriptor.name);
                g_free(path);
                return NULL;
            }
            g_free(path);
            return module;
        }
        g_free(path);
    }
    *error = g_strdup_printf("no module named '%s' in the module path", name);
    return NULL;
}

GPtrArray *sc_loader_find_all(sc_loader *loader, GPtrArray *errors)
{
    GPtrArray *found = g_ptr_array_new();
    for (guint i = 0; i < loader->folders->len; i++) {
        const char *folder = g_ptr_array_index(loader->folders, i);
        GDir *dir = g_dir_open(folder, 0, NULL);
        if (!dir) continue;
        GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
        const char *entry;
        while ((entry = g_dir_read_name(dir)))
            if (g_str_has_suffix(entry, ".so")) g_ptr_array_add(names, g_strdup(entry));
        g_dir_close(dir);
        g_ptr_array_sort(names, (GCompareFunc)(void *)g_strcmp0);
        for (guint j = 0; j < names->len; j++) {
            char *name = g_strndup(g_ptr_array_index(names, j), strlen(g_ptr_array_index(names, j)) - 3);
            bool shadowed = false;
            for (guint k = 0; k < found->len; k++)
                if (strcmp(((sc_module *)g_ptr_array_index(found, k))->descriptor.name, name) == 0) shadowed = true;
            if (!shadowed) {
                char *error = NULL;
                sc_module *module = sc_loader_find(loader, name, &error);
                if (module) g_ptr_array_add(found, module);
                else g_ptr_array_add(errors, error);
            }
            g_free(name);
        }
        g_ptr_array_free(names, TRUE);
    }
    return found;
}

const sc_option_spec *sc_module_find_option(const sc_module *module, const char *name)
{
    for (size_t i = 0; i < module->option_count; i++)
        if (strcmp(module->options[i].name, name) == 0) return &module->options[i];
    return NULL;
}
