/*
 * names.c: text for every public enum value, and the library's version.
 * Every string is static and constant.
 */
#include "internal.h"

const char *
pgcm_strerror(pgcm_status st)
{
	switch (st) {
	case PGCM_OK: return "success";
	case PGCM_DONE: return "completed: nothing more to do";
	case PGCM_AGAIN: return "nothing to do now; wait for the descriptors";
	case PGCM_FAULT: return "receivers faulted";
	case PGCM_ERR_ARG: return "invalid argument";
	case PGCM_ERR_NOMEM: return "out of memory";
	case PGCM_ERR_STATE: return "not valid in the current state";
	case PGCM_ERR_PRODUCER: return "the producer failed";
	case PGCM_ERR_NO_RECEIVERS: return "no receiver is left";
	case PGCM_ERR_ABORTED: return "the copy was aborted";
	case PGCM_ERR_ROWCOUNT: return "row count mismatch";
	case PGCM_ERR_REFUSED: return "refused: the receiver's connection or COPY is gone";
	case PGCM_ERR_FORMAT: return "malformed COPY data";
	case PGCM_ERR_IO: return "input/output error";
	case PGCM_ERR_CONNECTION: return "connection lost";
	case PGCM_ERR_SERVER: return "server error";
	case PGCM_ERR_TIMEOUT: return "timed out";
	case PGCM_ERR_CALLBACK: return "callback failed";
	case PGCM_ERR_PLAN: return "the copy plan found problems";
	}
	return "unknown status";
}

const char *
pgcm_receiver_state_name(pgcm_receiver_state st)
{
	switch (st) {
	case PGCM_RECEIVER_IDLE: return "idle";
	case PGCM_RECEIVER_ACTIVE: return "active";
	case PGCM_RECEIVER_FAULTED: return "faulted";
	case PGCM_RECEIVER_DROPPED: return "dropped";
	case PGCM_RECEIVER_DONE: return "done";
	case PGCM_RECEIVER_ABORTED: return "aborted";
	}
	return "unknown";
}

const char *
pgcm_notify_kind_name(pgcm_notify_kind kind)
{
	switch (kind) {
	case PGCM_NOTIFY_NONE: return "none";
	case PGCM_NOTIFY_BATCH: return "batch";
	case PGCM_NOTIFY_IDLE: return "idle";
	case PGCM_NOTIFY_POLL_END: return "poll_end";
	case PGCM_NOTIFY_FAILED: return "failed";
	case PGCM_NOTIFY_DISCONNECTED: return "disconnected";
	case PGCM_NOTIFY_RECONNECTED: return "reconnected";
	}
	return "unknown";
}

const char *
pgcm_format_kind_name(pgcm_format_kind kind)
{
	switch (kind) {
	case PGCM_FORMAT_TEXT: return "text";
	case PGCM_FORMAT_CSV: return "csv";
	case PGCM_FORMAT_BINARY: return "binary";
	}
	return "unknown";
}

const char *
pgcm_plan_conversion_name(pgcm_plan_conversion conv)
{
	switch (conv) {
	case PGCM_CONV_SAME: return "same";
	case PGCM_CONV_TEXT: return "text";
	case PGCM_CONV_CAST: return "cast";
	case PGCM_CONV_REFUSED: return "refused";
	}
	return "unknown";
}

const char *
pgcm_version(void)
{
	return PGCM_VERSION;
}

int
pgcm_version_num(void)
{
	return PGCM_VERSION_NUM;
}
