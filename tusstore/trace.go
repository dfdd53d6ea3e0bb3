package tusstore

import (
	"context"
	"io"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// tracedObject makes a client span per OSS call of the object it wraps:
// "oss UploadPart", "oss CompleteMultipartUpload" and the others. Store
// wraps objects with it only when Config.TracerProvider is set, so the
// byte path without tracing is the bare SDK adapter.
type tracedObject struct {
	object
	tracer trace.Tracer
	attrs  []attribute.KeyValue // bucket and key
}

func (o *tracedObject) start(ctx context.Context, op string, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	return o.tracer.Start(ctx, "oss "+op, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(o.attrs...), trace.WithAttributes(attrs...))
}

func endSpan(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

func (o *tracedObject) Initiate(ctx context.Context) (string, error) {
	ctx, span := o.start(ctx, "InitiateMultipartUpload")
	id, err := o.object.Initiate(ctx)
	span.SetAttributes(attribute.String("oss.upload_id", id))
	endSpan(span, err)
	return id, err
}

func (o *tracedObject) UploadPart(ctx context.Context, id string, n int, r io.Reader, size int64) (string, uint64, bool, error) {
	ctx, span := o.start(ctx, "UploadPart", attribute.String("oss.upload_id", id),
		attribute.Int("oss.part_number", n), attribute.Int64("oss.part_size", size))
	etag, crc, ok, err := o.object.UploadPart(ctx, id, n, r, size)
	endSpan(span, err)
	return etag, crc, ok, err
}

func (o *tracedObject) Complete(ctx context.Context, id string, parts []part) (uint64, bool, error) {
	ctx, span := o.start(ctx, "CompleteMultipartUpload", attribute.String("oss.upload_id", id),
		attribute.Int("oss.parts", len(parts)))
	crc, ok, err := o.object.Complete(ctx, id, parts)
	endSpan(span, err)
	return crc, ok, err
}

func (o *tracedObject) Abort(ctx context.Context, id string) error {
	ctx, span := o.start(ctx, "AbortMultipartUpload", attribute.String("oss.upload_id", id))
	err := o.object.Abort(ctx, id)
	endSpan(span, err)
	return err
}

func (o *tracedObject) Put(ctx context.Context, r io.Reader, size int64) (uint64, bool, error) {
	ctx, span := o.start(ctx, "PutObject", attribute.Int64("oss.size", size))
	crc, ok, err := o.object.Put(ctx, r, size)
	endSpan(span, err)
	return crc, ok, err
}

func (o *tracedObject) Head(ctx context.Context) (int64, uint64, bool, error) {
	ctx, span := o.start(ctx, "HeadObject")
	size, crc, ok, err := o.object.Head(ctx)
	endSpan(span, err)
	return size, crc, ok, err
}
