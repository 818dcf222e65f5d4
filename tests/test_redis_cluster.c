/* The redis sink's Cluster routing (modules/redis/redis_cluster.c): key
 * slots as redis-server 7.0's CLUSTER KEYSLOT computes them (hash tags
 * included), and MOVED/ASK replies parsed or refused. test_redis_cluster.sh
 * checks the slots against a running server too. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "redis_cluster.h"

static int slot_of(const char *key) { return redis_cluster_key_slot(key, strlen(key)); }

START_TEST(test_key_slots)
{
    /* Values from CLUSTER KEYSLOT on redis-server 7.0.15. */
    ck_assert_int_eq(slot_of("123456789"), 12739);
    ck_assert_int_eq(slot_of("foo"), 12182);
    ck_assert_int_eq(slot_of("somekey"), 11058);
    ck_assert_int_eq(slot_of("{user1000}.following"), 3443);
    ck_assert_int_eq(slot_of("{user1000}.followers"), 3443);
    /* The first '{' and the next '}': an empty tag hashes the whole key. */
    ck_assert_int_eq(slot_of("foo{}{bar}"), 8363);
    ck_assert_int_eq(slot_of("foo{{bar}}zap"), 4015);
    ck_assert_int_eq(slot_of("{bar"), 4015);
    ck_assert_int_eq(slot_of("foo{bar}{zap}"), 5061);
    ck_assert_int_eq(slot_of("bar"), 5061);
    ck_assert_int_eq(slot_of("{}"), 15257);
    ck_assert_int_eq(slot_of("a{b"), 13340);
    /* Binary-safe: the length counts, not a NUL. */
    ck_assert_int_eq(redis_cluster_key_slot("foo\0bar", 3), 12182);
    ck_assert_int_eq(redis_cluster_key_slot("", 0), 0);
}
END_TEST

START_TEST(test_redirects)
{
    redis_redirect redirect;
    ck_assert_int_eq(redis_cluster_parse_redirect("MOVED 3999 127.0.0.1:6381", &redirect), 0);
    ck_assert_int_eq(redirect.ask, 0);
    ck_assert_int_eq(redirect.slot, 3999);
    ck_assert_str_eq(redirect.host, "127.0.0.1");
    ck_assert_int_eq(redirect.port, 6381);

    ck_assert_int_eq(redis_cluster_parse_redirect("ASK 16383 redis-2.example:7000", &redirect), 0);
    ck_assert_int_eq(redirect.ask, 1);
    ck_assert_int_eq(redirect.slot, 16383);
    ck_assert_str_eq(redirect.host, "redis-2.example");
    ck_assert_int_eq(redirect.port, 7000);

    /* IPv6, bare or bracketed; an empty host means the node that answered. */
    ck_assert_int_eq(redis_cluster_parse_redirect("MOVED 0 ::1:7001", &redirect), 0);
    ck_assert_str_eq(redirect.host, "::1");
    ck_assert_int_eq(redirect.port, 7001);
    ck_assert_int_eq(redis_cluster_parse_redirect("MOVED 1 [fe80::1]:7002", &redirect), 0);
    ck_assert_str_eq(redirect.host, "fe80::1");
    ck_assert_int_eq(redis_cluster_parse_redirect("MOVED 2 :7003", &redirect), 0);
    ck_assert_str_eq(redirect.host, "");
    ck_assert_int_eq(redirect.port, 7003);

    const char *refused[] = {"ERR wrong number of arguments", "MOVED", "MOVED 3999", "MOVED x 1.2.3.4:1",
                             "MOVED 16384 1.2.3.4:1", "MOVED -1 1.2.3.4:1", "MOVED 5 1.2.3.4", "MOVED 5 1.2.3.4:",
                             "MOVED 5 1.2.3.4:0", "MOVED 5 1.2.3.4:65536", "MOVED 5 1.2.3.4:80x", "ASK 5  a b:1",
                             "MOVEDX 5 1.2.3.4:1", "moved 5 1.2.3.4:1"};
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
        ck_assert_msg(redis_cluster_parse_redirect(refused[i], &redirect) == -1, "accepted: %s", refused[i]);

    char long_host[400];
    memset(long_host, 'h', sizeof(long_host));
    strcpy(long_host + 300, ":1");
    char reply[420] = "MOVED 5 ";
    strcat(reply, long_host);
    ck_assert_int_eq(redis_cluster_parse_redirect(reply, &redirect), -1);
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("redis_cluster");
    TCase *tcase = tcase_create("routing");
    tcase_add_test(tcase, test_key_slots);
    tcase_add_test(tcase, test_redirects);
    suite_add_tcase(suite, tcase);
    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
