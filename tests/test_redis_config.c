/* The redis sink's url and key options (modules/redis/redis_config.c):
 * every URL form, credentials percent-decoded and never shown, every
 * rejection with its reason (and no password in it), key templates. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis_config.h"

static redis_target parsed(const char *url)
{
    redis_target target;
    char err[256] = "";
    ck_assert_msg(redis_target_parse(url, &target, err, sizeof(err)) == 0, "%s rejected: %s", url, err);
    return target;
}

/* The reason `url` is rejected; it must not contain `secret`. */
static void assert_rejected(const char *url, const char *reason_part, const char *secret)
{
    redis_target target;
    char err[256] = "";
    ck_assert_msg(redis_target_parse(url, &target, err, sizeof(err)) != 0, "%s accepted", url);
    ck_assert_msg(strstr(err, reason_part) != NULL, "%s: reason '%s' lacks '%s'", url, err, reason_part);
    if (secret != NULL)
        ck_assert_msg(strstr(err, secret) == NULL, "%s: reason '%s' shows the password", url, err);
    ck_assert_ptr_null(target.password);
    ck_assert_ptr_null(target.user);
}

static void assert_described(redis_target *target, const char *expected)
{
    char text[512];
    redis_target_describe(target, text, sizeof(text));
    ck_assert_str_eq(text, expected);
    redis_target_clear(target);
}

START_TEST(test_tcp_forms)
{
    redis_target target = parsed("redis://127.0.0.1:6379/0");
    ck_assert_int_eq(target.is_unix, 0);
    ck_assert_str_eq(target.host, "127.0.0.1");
    ck_assert_int_eq(target.port, 6379);
    ck_assert_int_eq(target.db, 0);
    ck_assert_ptr_null(target.password);
    assert_described(&target, "redis://127.0.0.1:6379/0");

    target = parsed("redis://cache.example");
    ck_assert_int_eq(target.port, 6379);
    assert_described(&target, "redis://cache.example:6379/0");

    target = parsed("redis://cache.example:7000/");
    ck_assert_int_eq(target.port, 7000);
    assert_described(&target, "redis://cache.example:7000/0");

    target = parsed("redis://[::1]:6380/3");
    ck_assert_str_eq(target.host, "::1");
    ck_assert_int_eq(target.db, 3);
    assert_described(&target, "redis://[::1]:6380/3");

    target = parsed("redis://localhost?db=5");
    ck_assert_int_eq(target.db, 5);
    assert_described(&target, "redis://localhost:6379/5");
}
END_TEST

START_TEST(test_credentials)
{
    redis_target target = parsed("redis://:s3cret@db.example:6380/2");
    ck_assert_ptr_null(target.user);
    ck_assert_str_eq(target.password, "s3cret");
    assert_described(&target, "redis://:***@db.example:6380/2");

    target = parsed("redis://worker:pa%40ss%3Aword@db.example/1");
    ck_assert_str_eq(target.user, "worker");
    ck_assert_str_eq(target.password, "pa@ss:word");
    assert_described(&target, "redis://worker:***@db.example:6379/1");

    /* The last '@' ends the credentials: unescaped '@', '/', '#' and ':' in
     * a password still work. */
    target = parsed("redis://worker:p@ss/w#rd:x@10.0.0.7:6379/4");
    ck_assert_str_eq(target.user, "worker");
    ck_assert_str_eq(target.password, "p@ss/w#rd:x");
    ck_assert_str_eq(target.host, "10.0.0.7");
    ck_assert_int_eq(target.db, 4);
    assert_described(&target, "redis://worker:***@10.0.0.7:6379/4");
}
END_TEST

START_TEST(test_unix_socket)
{
    redis_target target = parsed("unix:///run/redis/redis.sock?db=2");
    ck_assert_int_eq(target.is_unix, 1);
    ck_assert_str_eq(target.socket_path, "/run/redis/redis.sock");
    ck_assert_int_eq(target.db, 2);
    assert_described(&target, "unix:///run/redis/redis.sock?db=2");

    target = parsed("unix://:hunter2@/tmp/r.sock");
    ck_assert_str_eq(target.password, "hunter2");
    ck_assert_int_eq(target.db, 0);
    assert_described(&target, "unix://:***@/tmp/r.sock?db=0");
}
END_TEST

START_TEST(test_rejections)
{
    assert_rejected("http://127.0.0.1", "must start with redis:// or unix://", NULL);
    assert_rejected("rediss://127.0.0.1", "TLS", NULL);
    assert_rejected("redis://", "no host", NULL);
    assert_rejected("redis://:6379", "no host", NULL);
    assert_rejected("redis://host:0", "port", NULL);
    assert_rejected("redis://host:65536", "port", NULL);
    assert_rejected("redis://host:63a9", "port", NULL);
    assert_rejected("redis://host/x", "database number", NULL);
    assert_rejected("redis://host/1?db=2", "twice", NULL);
    assert_rejected("redis://host?timeout=3", "?db=N", NULL);
    assert_rejected("redis://[::1", "']'", NULL);
    assert_rejected("redis://ho st", "character", NULL);
    assert_rejected("unix://relative.sock", "absolute path", NULL);
    assert_rejected("unix://:topsecret@/x?db=x", "database number", "topsecret");
    assert_rejected("redis://onlyuser@host", "user:password", "onlyuser");
    assert_rejected("redis://user:@host", "password after ':' is empty", NULL);
    assert_rejected("redis://:bad%zzsecret@host", "bad %-escape", "secret");
    assert_rejected("redis://:nul%00secret@host", "bad %-escape", "secret");
    assert_rejected("redis://:topsecret@host:99999", "port", "topsecret");

    char long_path[200] = "unix:///";
    memset(long_path + 8, 'a', 150);
    long_path[158] = '\0';
    assert_rejected(long_path, "longer than", NULL);
}
END_TEST

START_TEST(test_key_templates)
{
    char err[256];
    ck_assert_int_eq(redis_key_template_check("streamcut:{source}", err, sizeof(err)), 0);
    char *key = redis_key_expand("streamcut:{source}", "cam1", "every10");
    ck_assert_str_eq(key, "streamcut:cam1");
    free(key);
    key = redis_key_expand("{{sc}}:{strategy}/{source}", "cam1", "every10");
    ck_assert_str_eq(key, "{sc}:every10/cam1");
    free(key);
    key = redis_key_expand("segments", "cam1", "every10");
    ck_assert_str_eq(key, "segments");
    free(key);

    ck_assert_int_eq(redis_key_template_check("x:{index}", err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "unknown placeholder {index}"));
    ck_assert_int_eq(redis_key_template_check("x:{source", err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "without its '}'"));
    ck_assert_int_eq(redis_key_template_check("x:}", err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "lone '}'"));
    ck_assert_int_eq(redis_key_template_check("", err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "empty"));
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("redis_config");
    TCase *tcase = tcase_create("parse");
    tcase_add_test(tcase, test_tcp_forms);
    tcase_add_test(tcase, test_credentials);
    tcase_add_test(tcase, test_unix_socket);
    tcase_add_test(tcase, test_rejections);
    tcase_add_test(tcase, test_key_templates);
    suite_add_tcase(suite, tcase);
    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
