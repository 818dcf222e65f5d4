#include "resolver.h"

#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <streamcut/abi.h>

extern char **environ;

#define MAX_OUTPUT (64 * 1024)

static char *substitute(const char *word, const char *url)
{
    GString *out = g_string_new(NULL);
    for (const char *p = word; *p;) {
        if (strncmp(p, "{url}", 5) == 0) {
            g_string_append(out, url);
            p += 5;
        } else {
            g_string_append_c(out, *p++);
        }
    }
    return g_string_free(out, FALSE);
}

int sc_resolve_url(const char *command, const char *url, int64_t timeout_ns, char *out, size_t length,
                   char **error)
{
    *error = NULL;
    char **words = NULL;
    GError *parse_error = NULL;
    if (!g_shell_parse_argv(command, NULL, &words, &parse_error)) {
        *error = g_strdup_printf("resolver '%s' cannot be split into words: %s", command, parse_error->message);
        g_error_free(parse_error);
        return SC_ERR_INVALID;
    }
    for (char **word = words; *word; word++) {
        char *replaced = substitute(*word, url);
        g_free(*word);
        *word = replaced;
    }
    int pipe_fds[2];
    if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
        *error = g_strdup_printf("resolver: pipe: %s", g_strerror(errno));
        g_strfreev(words);
        return SC_ERR_IO;
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawnattr_t attributes;
    posix_spawnattr_init(&attributes);
    /* Its own process group, so a deadline kills everything it started. */
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setpgroup(&attributes, 0);
    sigset_t none, defaults;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attributes, &none);
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGPIPE);
    sigaddset(&defaults, SIGINT);
    sigaddset(&defaults, SIGTERM);
    posix_spawnattr_setsigdefault(&attributes, &defaults);
    pid_t child;
    int spawned = posix_spawnp(&child, words[0], &actions, &attributes, words, environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
    close(pipe_fds[1]);
    if (spawned != 0) {
        *error = g_strdup_printf("resolver '%s' could not start: %s", words[0], g_strerror(spawned));
        close(pipe_fds[0]);
        g_strfreev(words);
        return SC_ERR_IO;
    }
    GString *output = g_string_new(NULL);
    gint64 deadline = g_get_monotonic_time() + timeout_ns / 1000;
    bool timed_out = false;
    for (;;) {
        gint64 left = deadline - g_get_monotonic_time();
        if (left <= 0) {
            timed_out = true;
            break;
        }
        struct pollfd poll_fd = {pipe_fds[0], POLLIN, 0};
        int ready = poll(&poll_fd, 1, (int)MIN(left / 1000 + 1, 1000));
        if (ready < 0 && errno == EINTR) continue;
        if (ready <= 0) continue;
        char chunk[4096];
        ssize_t got = read(pipe_fds[0], chunk, sizeof chunk);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) break;
        if (output->len < MAX_OUTPUT) g_string_append_len(output, chunk, got);
    }
    close(pipe_fds[0]);
    if (timed_out) kill(-child, SIGKILL);
    int status = 0;
    while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    int result;
    if (timed_out) {
        *error = g_strdup_printf("resolver '%s' did not finish within %.1f s", words[0], timeout_ns / 1e9);
        result = SC_ERR_IO;
    } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        *error = g_strdup_printf("resolver '%s' failed (%s %d)", words[0], WIFEXITED(status) ? "exit status" : "signal",
                                 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
        result = SC_ERR_IO;
    } else {
        char **lines = g_strsplit(output->str, "\n", -1);
        const char *first = NULL;
        for (char **line = lines; *line && !first; line++) {
            g_strstrip(*line);
            if (**line) first = *line;
        }
        if (!first) {
            *error = g_strdup_printf("resolver '%s' printed no URL", words[0]);
            result = SC_ERR_IO;
        } else if (strlen(first) >= length) {
            *error = g_strdup_printf("resolver '%s' printed a URL longer than %zu bytes", words[0], length - 1);
            result = SC_ERR_INVALID;
        } else {
            g_strlcpy(out, first, length);
            result = (int)strlen(first);
        }
        g_strfreev(lines);
    }
    g_string_free(output, TRUE);
    g_strfreev(words);
    return result;
}
