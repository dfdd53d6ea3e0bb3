package edge

import (
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// TestHTTP2Windows reads the SETTINGS and the connection WINDOW_UPDATE the
// server sends first (over h2c, prior knowledge) and checks the receive
// windows it grants an upload.
func TestHTTP2Windows(t *testing.T) {
	s := serve(t, Config{H2C: true}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	conn, err := net.DialTimeout("tcp", s.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(conn, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(conn, conn)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	var stream, connWindow uint32
	for stream == 0 || connWindow == 0 {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("read frame: %v (stream window %d, connection window %d so far)", err, stream, connWindow)
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if v, ok := f.Value(http2.SettingInitialWindowSize); ok {
				stream = v
			}
		case *http2.WindowUpdateFrame:
			if f.StreamID == 0 {
				connWindow = 65535 + f.Increment
			}
		}
	}
	if stream != H2StreamWindow {
		t.Errorf("SETTINGS_INITIAL_WINDOW_SIZE = %d, want %d", stream, H2StreamWindow)
	}
	if connWindow != H2ConnectionWindow {
		t.Errorf("connection window = %d, want %d", connWindow, H2ConnectionWindow)
	}
}
