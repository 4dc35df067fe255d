//go:build cgo

package k8sretry

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/cgo"
	"sync/atomic"

	"github.com/go-logr/logr"
)

// Logs. The events of a call made with a context (Do, the idempotent helpers, WrapTransport's
// requests) go to the logger that context carries: an *slog.Logger put there with
// ContextWithLogger, else a logr.Logger put there with logr.NewContext (controller-runtime does:
// a reconciler's ctx logs its calls with the reconciler's logger), else the default logger
// (SetDefaultLogger; slog.Default() until set). The level is the engine's (Event.Level, one rule
// for every language), mapped to the logger's:
//
//	LevelDebug: a first attempt's final answer (a 404, a 409, a 422), a cancel  slog Debug  logr V(1).Info
//	LevelInfo:  succeeded after retries, recovered a lost response              slog Info   logr V(0).Info
//	LevelWarn:  retrying, retry deferred, give-ups that return the error        slog Warn   logr V(0).Info
//	LevelError: a write whose outcome is unknown (it may or may not have landed) slog Error  logr Error
//
// The message is the event name (k8s_api_call_failed_retrying, ...) and the fields are named like
// the event's: function, attempt, max_retries, delay_seconds, status_code, reason, code,
// error_type, error, give_up (fields without a value are left out).

type slogKey struct{}

// ContextWithLogger returns a context whose k8sretry calls log their events to logger.
func ContextWithLogger(ctx context.Context, logger *slog.Logger) context.Context {
	return context.WithValue(ctx, slogKey{}, logger)
}

var defaultLogger atomic.Pointer[slog.Logger]

// SetDefaultLogger sets the logger of calls whose context carries none; nil means slog.Default().
// To log nothing by default: SetDefaultLogger(slog.New(slog.DiscardHandler)).
func SetDefaultLogger(logger *slog.Logger) { defaultLogger.Store(logger) }

// callSink is what an event of a call needs to find its logger: the call's context.
type callSink struct{ ctx context.Context }

func (s *callSink) log(e Event) {
	if l, ok := s.ctx.Value(slogKey{}).(*slog.Logger); ok && l != nil {
		logSlog(s.ctx, l, e)
		return
	}
	if l, err := logr.FromContext(s.ctx); err == nil {
		logLogr(l, e)
		return
	}
	l := defaultLogger.Load()
	if l == nil {
		l = slog.Default()
	}
	logSlog(s.ctx, l, e)
}

// fields are the event's fields as alternating keys and values, those without a value left out.
func fields(e Event, withError bool) []any {
	kv := []any{"function", e.Function, "attempt", e.Attempt, "max_retries", e.MaxRetries}
	if e.DelaySeconds >= 0 {
		kv = append(kv, "delay_seconds", e.DelaySeconds)
	}
	if e.StatusCode != 0 {
		kv = append(kv, "status_code", e.StatusCode)
	}
	for _, f := range [][2]string{{"reason", e.Reason}, {"code", e.Code}, {"error_type", e.ErrorType}} {
		if f[1] != "" {
			kv = append(kv, f[0], f[1])
		}
	}
	if withError && e.Error != "" {
		kv = append(kv, "error", e.Error)
	}
	if e.GiveUp != GiveUpNone {
		kv = append(kv, "give_up", e.GiveUp.String())
	}
	return kv
}

// slogLevels maps the engine's levels to slog's.
var slogLevels = map[Level]slog.Level{LevelDebug: slog.LevelDebug, LevelInfo: slog.LevelInfo, LevelWarn: slog.LevelWarn, LevelError: slog.LevelError}

func logSlog(ctx context.Context, l *slog.Logger, e Event) {
	lvl := slogLevels[e.Level]
	if l.Enabled(ctx, lvl) {
		l.Log(ctx, lvl, e.Name, fields(e, true)...)
	}
}

// eventError is the error of an event, for logr's Error.
type eventError string

func (e eventError) Error() string { return string(e) }

func logLogr(l logr.Logger, e Event) {
	switch e.Level {
	case LevelDebug:
		l.V(1).Info(e.Name, fields(e, true)...)
	case LevelError:
		l.Error(eventError(e.Error), e.Name, fields(e, false)...)
	default: // logr has no warning level: warnings are V(0) lines, as klog's
		l.Info(e.Name, fields(e, true)...)
	}
}

// reportHandlerPanic logs a panic recovered from an event handler or logger (see SetEventHandler)
// to the call's logger, or the default one. A logger that panics again is given up on: nothing
// may unwind into libk8sretry.
func reportHandlerPanic(sink uintptr, event, function string, value any, stack []byte) {
	defer func() { _ = recover() }()
	ctx := context.Background()
	l := defaultLogger.Load()
	if sink != 0 {
		if s, ok := cgo.Handle(sink).Value().(*callSink); ok {
			ctx = s.ctx
			if cl, ok := s.ctx.Value(slogKey{}).(*slog.Logger); ok && cl != nil {
				l = cl
			} else if lr, err := logr.FromContext(s.ctx); err == nil {
				lr.Error(fmt.Errorf("panic: %v", value), handlerPanicked, "event", event, "function", function, "panic", fmt.Sprint(value), "stack", string(stack))
				return
			}
		}
	}
	if l == nil {
		l = slog.Default()
	}
	l.Log(ctx, slog.LevelError, handlerPanicked, "event", event, "function", function, "panic", fmt.Sprint(value), "stack", string(stack))
}

// handlerPanicked is the message of the log line that reports a panic in an event handler.
const handlerPanicked = "k8sretry_event_handler_panicked"
