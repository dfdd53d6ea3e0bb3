package server

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/tus/tusd/v2/pkg/handler"
	"github.com/tus/tusd/v2/pkg/memorylocker"
)

// memStore is a tiny in-memory tusd DataStore for HTTP-layer tests.
type memStore struct {
	mu      sync.Mutex
	next    int
	uploads map[string]*memUpload
	// newErr, if set, is returned by NewUpload.
	newErr error
	// received is signalled with the running total while WriteChunk reads.
	received chan int64
	// writeDone receives what WriteChunk saw when it returned.
	writeDone chan writeResult
}

type writeResult struct {
	n      int64
	err    error
	ctxErr error // the store context's error at return (nil: still usable)
}

type memUpload struct {
	store *memStore
	info  handler.FileInfo
	data  []byte
}

func newMemStore() *memStore {
	return &memStore{uploads: map[string]*memUpload{}, writeDone: make(chan writeResult, 8)}
}

func (s *memStore) composer() *handler.StoreComposer {
	c := handler.NewStoreComposer()
	c.UseCore(s)
	c.UseTerminater(s)
	memorylocker.New().UseIn(c)
	return c
}

func (s *memStore) NewUpload(_ context.Context, info handler.FileInfo) (handler.Upload, error) {
	if s.newErr != nil {
		return nil, s.newErr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next++
	info.ID = fmt.Sprintf("up%d", s.next)
	u := &memUpload{store: s, info: info}
	s.uploads[info.ID] = u
	return u, nil
}

func (s *memStore) GetUpload(_ context.Context, id string) (handler.Upload, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.uploads[id]
	if !ok {
		return nil, handler.ErrNotFound
	}
	return u, nil
}

func (s *memStore) AsTerminatableUpload(u handler.Upload) handler.TerminatableUpload {
	return u.(*memUpload)
}

func (s *memStore) offset(id string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.uploads[id].info.Offset
}

func (u *memUpload) WriteChunk(ctx context.Context, _ int64, src io.Reader) (int64, error) {
	buf := make([]byte, 32<<10)
	var n int64
	var err error
	for {
		var m int
		m, err = src.Read(buf)
		if m > 0 {
			u.store.mu.Lock()
			u.data = append(u.data, buf[:m]...)
			u.info.Offset += int64(m) // "persist" every byte read
			u.store.mu.Unlock()
			n += int64(m)
			if u.store.received != nil {
				u.store.received <- n
			}
		}
		if err != nil {
			break
		}
	}
	if err == io.EOF {
		err = nil
	}
	u.store.writeDone <- writeResult{n: n, err: err, ctxErr: ctx.Err()}
	return n, nil // keep what was read, like the real store
}

func (u *memUpload) GetInfo(context.Context) (handler.FileInfo, error) {
	u.store.mu.Lock()
	defer u.store.mu.Unlock()
	return u.info, nil
}

func (u *memUpload) GetReader(context.Context) (io.ReadCloser, error) {
	return nil, handler.ErrNotImplemented
}

func (u *memUpload) FinishUpload(context.Context) error { return nil }

func (u *memUpload) Terminate(context.Context) error {
	u.store.mu.Lock()
	defer u.store.mu.Unlock()
	delete(u.store.uploads, u.info.ID)
	return nil
}
