package server

import (
	"context"
	"log/slog"
	"strings"

	expslog "golang.org/x/exp/slog"
)

// TusdLogger adapts l for tusd v2.9.1, which logs through
// golang.org/x/exp/slog. Records go to l's handler (so redaction and the
// level apply), with "component" set to "tusd". tusd's per-request
// RequestIncoming and ResponseOutgoing events are demoted to debug, since
// the access log already records every request; a ResponseOutgoing with
// an error status (400 and above) stays at info, since it carries the
// reason sent to the client. BodyReadError (the client stopped sending a
// PATCH body) is logged at info, not error.
func TusdLogger(l *slog.Logger) *expslog.Logger {
	return expslog.New(&expBridge{next: l.Handler().WithAttrs([]slog.Attr{slog.String("component", "tusd")})})
}

// expBridge is an x/exp/slog handler that forwards to a log/slog handler.
type expBridge struct {
	next slog.Handler
}

// demoted reports whether a tusd event is logged at debug instead of info.
func demoted(msg string) bool { return msg == "RequestIncoming" || msg == "ResponseOutgoing" }

func (b *expBridge) Enabled(ctx context.Context, l expslog.Level) bool {
	// Demotion depends on the message, so allow info and decide in Handle.
	return b.next.Enabled(ctx, slog.Level(l)) || (l == expslog.LevelInfo && b.next.Enabled(ctx, slog.LevelDebug))
}

func (b *expBridge) Handle(ctx context.Context, r expslog.Record) error {
	level := slog.Level(r.Level)
	if level == slog.LevelInfo && demoted(r.Message) && !errorStatus(r) {
		level = slog.LevelDebug
	}
	if r.Message == "BodyReadError" && level > slog.LevelInfo {
		// A client that goes away mid-PATCH (or is interrupted by its own
		// next request) is normal for resumable uploads, and the bytes read
		// are kept: not an error of the gateway's.
		level = slog.LevelInfo
	}
	if !b.next.Enabled(ctx, level) {
		return nil
	}
	out := slog.NewRecord(r.Time, level, r.Message, r.PC)
	contentType := r.Message == "ResponseOutgoing" && bodyHas(r, "ERR_INVALID_CONTENT_TYPE")
	r.Attrs(func(a expslog.Attr) bool {
		if contentType && a.Key == "status" && a.Value.Kind() == expslog.KindInt64 && a.Value.Int64() == 400 {
			// withTusStatus sends this one as 415: log what the client got.
			a.Value = expslog.Int64Value(415)
		}
		out.AddAttrs(convAttr(a))
		return true
	})
	return b.next.Handle(ctx, out)
}

func (b *expBridge) WithAttrs(as []expslog.Attr) expslog.Handler {
	conv := make([]slog.Attr, len(as))
	for i, a := range as {
		conv[i] = convAttr(a)
	}
	return &expBridge{next: b.next.WithAttrs(conv)}
}

func (b *expBridge) WithGroup(name string) expslog.Handler {
	return &expBridge{next: b.next.WithGroup(name)}
}

// errorStatus reports whether r has a "status" attribute of 400 or more.
func errorStatus(r expslog.Record) bool {
	found := false
	r.Attrs(func(a expslog.Attr) bool {
		if a.Key == "status" && a.Value.Kind() == expslog.KindInt64 && a.Value.Int64() >= 400 {
			found = true
			return false
		}
		return true
	})
	return found
}

func convAttr(a expslog.Attr) slog.Attr {
	return slog.Attr{Key: a.Key, Value: convValue(a.Value.Resolve())}
}

func convValue(v expslog.Value) slog.Value {
	switch v.Kind() {
	case expslog.KindString:
		return slog.StringValue(v.String())
	case expslog.KindInt64:
		return slog.Int64Value(v.Int64())
	case expslog.KindUint64:
		return slog.Uint64Value(v.Uint64())
	case expslog.KindFloat64:
		return slog.Float64Value(v.Float64())
	case expslog.KindBool:
		return slog.BoolValue(v.Bool())
	case expslog.KindDuration:
		return slog.DurationValue(v.Duration())
	case expslog.KindTime:
		return slog.TimeValue(v.Time())
	case expslog.KindGroup:
		g := v.Group()
		as := make([]slog.Attr, len(g))
		for i, a := range g {
			as[i] = convAttr(a)
		}
		return slog.GroupValue(as...)
	default:
		return slog.AnyValue(v.Any())
	}
}

// bodyHas reports whether r has a "body" attribute starting with code.
func bodyHas(r expslog.Record, code string) bool {
	found := false
	r.Attrs(func(a expslog.Attr) bool {
		if a.Key == "body" {
			found = strings.HasPrefix(a.Value.String(), code)
			return false
		}
		return true
	})
	return found
}
