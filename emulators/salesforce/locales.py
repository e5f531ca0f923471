"""The value sets of User's restricted picklists: time zone, locale, language, email encoding.

Salesforce's own lists are longer for locales; the emulator carries the common ones (a value
missing here is refused like a bad value, so add it when a test needs it). Time zones are the
IANA region zones (Europe/Berlin, America/Argentina/Buenos_Aires, ...) plus GMT, as Salesforce
names them.
"""

from __future__ import annotations

import zoneinfo

_REGIONS = (
    "Africa",
    "America",
    "Antarctica",
    "Asia",
    "Atlantic",
    "Australia",
    "Europe",
    "Indian",
    "Pacific",
)

TIME_ZONES: tuple[str, ...] = (
    "GMT",
    *sorted(z for z in zoneinfo.available_timezones() if z.split("/", 1)[0] in _REGIONS),
)

# Fully supported and end-user languages (LanguageLocaleKey)
LANGUAGES: tuple[str, ...] = (
    "en_US", "de", "es", "fr", "it", "ja", "sv", "ko", "zh_TW", "zh_CN", "pt_BR", "nl_NL", "da",
    "th", "fi", "ru", "es_MX", "no", "ar", "bg", "cs", "en_GB", "el", "et", "hr", "hu", "in",
    "iw", "lt", "lv", "pl", "pt_PT", "ro", "sk", "sl", "tr", "uk", "vi",
)  # fmt: skip

LOCALES: tuple[str, ...] = (
    "en_US", "en_GB", "en_AU", "en_CA", "en_IE", "en_IN", "en_NZ", "en_SG", "en_ZA", "en_HK",
    "de_DE", "de_AT", "de_CH", "de_LU", "fr_FR", "fr_BE", "fr_CA", "fr_CH", "fr_LU", "it_IT",
    "it_CH", "es_ES", "es_MX", "es_AR", "es_CL", "es_CO", "es_US", "pt_BR", "pt_PT", "nl_NL",
    "nl_BE", "da_DK", "sv_SE", "fi_FI", "no_NO", "pl_PL", "cs_CZ", "sk_SK", "hu_HU", "ro_RO",
    "bg_BG", "hr_HR", "sl_SI", "el_GR", "tr_TR", "ru_RU", "uk_UA", "et_EE", "lt_LT", "lv_LV",
    "ja_JP", "ko_KR", "zh_CN", "zh_TW", "zh_HK", "th_TH", "vi_VN", "in_ID", "ms_MY", "iw_IL",
    "ar_AE", "ar_SA", "hi_IN",
)  # fmt: skip

EMAIL_ENCODINGS: tuple[str, ...] = (
    "UTF-8", "ISO-8859-1", "Shift_JIS", "ISO-2022-JP", "EUC-JP", "ks_c_5601-1987", "Big5",
    "GB2312", "Big5-HKSCS", "x-SJIS_0213",
)  # fmt: skip
