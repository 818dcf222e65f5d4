/* Calendar dates to epoch days for the modules that read wall-clock times
 * from streams (HLS PROGRAM-DATE-TIME, RTMP onFI): no timegm(), so no
 * dependence on the process's time zone or locale. Header-only. */
#ifndef STREAMCUT_MODULES_CIVIL_DATE_H
#define STREAMCUT_MODULES_CIVIL_DATE_H

#include <stdbool.h>
#include <stdint.h>

/* The nanosecond range of int64 ends in 2262. */
#define CIVIL_DATE_MAX_YEAR 2261

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil algorithm). */
static inline int64_t civil_days_from_date(int64_t year, int64_t month, int64_t day)
{
    year -= month <= 2;
    int64_t era = (year >= 0 ? year : year - 399) / 400;
    int64_t year_of_era = year - era * 400;
    int64_t day_of_year = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
    int64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    return era * 146097 + day_of_era - 719468;
}

/* A real date from 1970 to CIVIL_DATE_MAX_YEAR (29 February only in leap years). */
static inline bool civil_date_valid(int64_t year, int64_t month, int64_t day)
{
    static const int month_days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    if (year < 1970 || year > CIVIL_DATE_MAX_YEAR || month < 1 || month > 12 || day < 1)
        return false;
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return day <= month_days[month - 1] + (month == 2 && leap);
}

#endif
