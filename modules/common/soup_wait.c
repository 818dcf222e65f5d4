/* libsoup on a private main context; see soup_wait.h. */
#include "soup_wait.h"

#define SETTLE_ITERATIONS_MAX 64

void sc_soup_keep_result(GObject *source, GAsyncResult *result, gpointer slot)
{
    (void)source;
    *(GAsyncResult **)slot = g_object_ref(result);
}

void sc_soup_wait_for(GMainContext *context, GAsyncResult *const *slot)
{
    while (*slot == NULL)
        g_main_context_iteration(context, TRUE);
}

void sc_soup_settle(GMainContext *context)
{
    for (int i = 0; i < SETTLE_ITERATIONS_MAX && g_main_context_iteration(context, FALSE); i++) {
    }
}

const char *sc_tls_problem_name(GTlsCertificateFlags problems)
{
    if (problems & G_TLS_CERTIFICATE_UNKNOWN_CA)
        return "signed by an unknown authority";
    if (problems & G_TLS_CERTIFICATE_BAD_IDENTITY)
        return "issued for another host";
    if (problems & G_TLS_CERTIFICATE_NOT_ACTIVATED)
        return "not valid yet";
    if (problems & G_TLS_CERTIFICATE_EXPIRED)
        return "expired";
    if (problems & G_TLS_CERTIFICATE_REVOKED)
        return "revoked";
    if (problems & G_TLS_CERTIFICATE_INSECURE)
        return "using an insecure algorithm";
    return "not valid";
}
