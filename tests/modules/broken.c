/* Deliberately broken modules for the loader tests. One source file, built
 * several times with BROKEN_* defined, each time as a module of its own. */
#include <streamcut/streamcut.h>

#include <stdlib.h>

static int probe_create(const sc_host_api *host, sc_ctx *ctx, void **instance)
{
    *instance = malloc(1);
    return *instance ? SC_OK : SC_ERR_NOMEM;
}

static void probe_destroy(void *instance) { free(instance); }

#ifndef BROKEN_MISSING_OP
static int probe_consume(void *instance, const sc_segment *segment) { return SC_OK; }
#endif

static const sc_sink_ops probe_ops = {
    SC_OPS_INIT(sc_sink_ops),
    .create = probe_create,
    .destroy = probe_destroy,
#ifndef BROKEN_MISSING_OP
    .consume = probe_consume,
#endif
};

#ifndef BROKEN_NAME
#define BROKEN_NAME "probe"
#endif

static const sc_module_descriptor probe_module = {
#ifdef CLAIM_OLDEST_MINOR
    SC_DESCRIPTOR_INIT_MINOR(0),
#else
    SC_DESCRIPTOR_INIT,
#endif
#ifdef BROKEN_MAJOR
    .abi_major = 2,
    .abi_minor = 0,
#endif
#ifdef BROKEN_MINOR
    .abi_minor = 99,
#endif
#ifdef BROKEN_SMALL_DESCRIPTOR
    .struct_size = 16,
#endif
    .kind = SC_MODULE_SINK,
    .name = BROKEN_NAME,
    .version = "test",
    .description = "a sink that accepts and ignores segments (loader tests)",
    .ops = &probe_ops,
};

#ifdef BROKEN_NO_ENTRY
/* Exported under another name: the loader must not find an entry. */
SC_EXTERN_C SC_EXPORT const sc_module_descriptor *not_the_entry(void);
const sc_module_descriptor *not_the_entry(void) { return &probe_module; }
#else
SC_MODULE_DEFINE(probe_module)
#endif
