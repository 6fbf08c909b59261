/* Logging to stderr. Level is set once by main (-v: info, -vv: debug). Secrets never go here. */
#ifndef SMBGATE_LOG_H
#define SMBGATE_LOG_H

enum log_level { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3, LOG_TRACE = 4 };

void log_set_level(int level);
int log_get_level(void);
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_enabled(l) (log_get_level() >= (l))
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...)                                                                             \
	do {                                                                                       \
		if (log_enabled(LOG_DEBUG))                                                        \
			log_msg(LOG_DEBUG, __VA_ARGS__);                                           \
	} while (0)
#define log_trace(...)                                                                             \
	do {                                                                                       \
		if (log_enabled(LOG_TRACE))                                                        \
			log_msg(LOG_TRACE, __VA_ARGS__);                                           \
	} while (0)

#endif
