package vodbridge

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestDecodeAddress(t *testing.T) {
	std := base64.StdEncoding.EncodeToString
	for _, tc := range []struct {
		name    string
		in      string
		want    Address
		wantErr bool
	}{
		{
			name: "documented fields",
			in:   std([]byte(`{"Endpoint":"https://oss-cn-shanghai.aliyuncs.com","Bucket":"outin-x","FileName":"sv/a/b.mp4"}`)),
			want: Address{Endpoint: "https://oss-cn-shanghai.aliyuncs.com", Bucket: "outin-x", FileName: "sv/a/b.mp4"},
		},
		{
			name: "object prefix, unknown fields, crlf",
			in: wrapCRLF(std([]byte(`{"Endpoint":"http://127.0.0.1:9000","Bucket":"outin-y","FileName":"sv/c.m3u8",` +
				`"ObjectPrefix":"sv/c/","Future":{"x":1}}`))),
			want: Address{Endpoint: "http://127.0.0.1:9000", Bucket: "outin-y", FileName: "sv/c.m3u8", ObjectPrefix: "sv/c/"},
		},
		{
			name: "scheme-less endpoint, json padded with newline",
			in:   std([]byte("{\"Endpoint\":\"oss-cn-beijing.aliyuncs.com\",\"Bucket\":\"b\",\"FileName\":\"k\"}\r\n")),
			want: Address{Endpoint: "https://oss-cn-beijing.aliyuncs.com", Bucket: "b", FileName: "k"},
		},
		{
			name: "missing padding",
			in:   strings.TrimRight(std([]byte(`{"Endpoint":"https://e","Bucket":"b","FileName":"kk"}`)), "="),
			want: Address{Endpoint: "https://e", Bucket: "b", FileName: "kk"},
		},
		{name: "empty", in: "", wantErr: true},
		{name: "not base64", in: "%%%", wantErr: true},
		{name: "not json", in: std([]byte("hello")), wantErr: true},
		{name: "json array", in: std([]byte("[1]")), wantErr: true},
		{name: "no bucket", in: std([]byte(`{"Endpoint":"https://e","FileName":"k"}`)), wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeAddress(tc.in)
			if tc.wantErr {
				if !errors.Is(err, ErrBadResponse) {
					t.Fatalf("err = %v, want ErrBadResponse", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestDecodeAuth(t *testing.T) {
	issued := time.Date(2026, 11, 24, 15, 0, 0, 0, time.UTC)
	const life = 3000 * time.Second
	enc := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	const base = `"AccessKeyId":"STS.abc","AccessKeySecret":"s3cr3t","SecurityToken":"CAIStok"`
	for _, tc := range []struct {
		name       string
		json       string
		endpoint   string
		wantExp    time.Time
		wantRegion string
		wantErr    bool
	}{
		{"lifetime only", `{` + base + `}`, "", issued.Add(life), "cn-fallback", false},
		{"ExpireUTCTime earlier", `{` + base + `,"ExpireUTCTime":"2026-11-24T15:30:00Z"}`, "", issued.Add(30 * time.Minute), "cn-fallback", false},
		{"ExpireUTCTime later is capped", `{` + base + `,"ExpireUTCTime":"2026-11-24T18:00:00Z"}`, "", issued.Add(life), "cn-fallback", false},
		{"ExpireUTCTime with millis", `{` + base + `,"ExpireUTCTime":"2026-11-24T15:10:00.000Z"}`, "", issued.Add(10 * time.Minute), "cn-fallback", false},
		{"Expiration string seconds", `{` + base + `,"Expiration":"600"}`, "", issued.Add(600 * time.Second), "cn-fallback", false},
		{"Expiration number seconds", `{` + base + `,"Expiration":1200}`, "", issued.Add(1200 * time.Second), "cn-fallback", false},
		{"Expiration 3600 capped by lifetime", `{` + base + `,"Expiration":"3600"}`, "", issued.Add(life), "cn-fallback", false},
		{"Expiration date", `{` + base + `,"Expiration":"2026-11-24T15:05:00Z"}`, "", issued.Add(5 * time.Minute), "cn-fallback", false},
		{"Expiration junk ignored", `{` + base + `,"Expiration":"soon"}`, "", issued.Add(life), "cn-fallback", false},
		{"all three", `{` + base + `,"Expiration":"900","ExpireUTCTime":"2026-11-24T15:20:00Z"}`, "", issued.Add(15 * time.Minute), "cn-fallback", false},
		{"region field", `{` + base + `,"Region":"cn-beijing"}`, "https://oss-cn-shanghai.aliyuncs.com", issued.Add(life), "cn-beijing", false},
		{"region from endpoint", `{` + base + `}`, "https://oss-cn-shenzhen-internal.aliyuncs.com", issued.Add(life), "cn-shenzhen", false},
		{"accelerate endpoint falls back", `{` + base + `}`, "https://oss-accelerate.aliyuncs.com", issued.Add(life), "cn-fallback", false},
		{"unknown fields", `{` + base + `,"Extra":[1,2],"Nested":{"a":"b"}}`, "", issued.Add(life), "cn-fallback", false},
		{"no token is allowed", `{"AccessKeyId":"LTAI","AccessKeySecret":"s3cr3t"}`, "", issued.Add(life), "cn-fallback", false},
		{"bad ExpireUTCTime", `{` + base + `,"ExpireUTCTime":"tomorrow"}`, "", time.Time{}, "", true},
		{"no ak", `{"AccessKeySecret":"s3cr3t","SecurityToken":"CAIStok"}`, "", time.Time{}, "", true},
		{"no secret", `{"AccessKeyId":"STS.abc","SecurityToken":"CAIStok"}`, "", time.Time{}, "", true},
		{"secret wrong type", `{"AccessKeyId":"STS.abc","AccessKeySecret":12345678}`, "", time.Time{}, "", true},
		{"truncated json", `{"AccessKeyId":"STS.abc","AccessKeySecret":"s3cr3t`, "", time.Time{}, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := decodeAuth(wrapCRLF(enc(tc.json)), issued, life, tc.endpoint, "cn-fallback")
			if tc.wantErr {
				if !errors.Is(err, ErrBadResponse) {
					t.Fatalf("err = %v, want ErrBadResponse", err)
				}
				for _, secret := range []string{"s3cr3t", "CAIStok", "12345678"} {
					if strings.Contains(err.Error(), secret) {
						t.Errorf("error %q leaks %q", err, secret)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !c.Expires.Equal(tc.wantExp) {
				t.Errorf("Expires = %v, want %v", c.Expires, tc.wantExp)
			}
			if c.Region != tc.wantRegion {
				t.Errorf("Region = %q, want %q", c.Region, tc.wantRegion)
			}
			if c.AccessKeySecret != "s3cr3t" {
				t.Errorf("AccessKeySecret not decoded")
			}
		})
	}
}

func TestCredentialExpired(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := Credential{Expires: now.Add(10 * time.Minute)}
	for _, tc := range []struct {
		at     time.Time
		margin time.Duration
		want   bool
	}{
		{now, 0, false},
		{now, 10 * time.Minute, true},
		{now, 9 * time.Minute, false},
		{now.Add(11 * time.Minute), 0, true},
	} {
		if got := c.Expired(tc.at, tc.margin); got != tc.want {
			t.Errorf("Expired(%v, %v) = %v, want %v", tc.at, tc.margin, got, tc.want)
		}
	}
}

// wrapCRLF breaks s into 76-column lines with \r\n, as the Java uploader's
// input may be.
func wrapCRLF(s string) string {
	var b strings.Builder
	for len(s) > 76 {
		b.WriteString(s[:76] + "\r\n")
		s = s[76:]
	}
	b.WriteString(s)
	return b.String()
}
