package osstest

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestV1DocVector checks the verifier against the OSS documentation's V1
// example (vod-oss-wire.md §5.4).
func TestV1DocVector(t *testing.T) {
	h := http.Header{}
	h.Set("Content-MD5", "ODBGOERFMDMzQTczRUY3NUE3NzA5QzdFNUYzMDQxNEM=")
	h.Set("Content-Type", "text/html")
	h.Set("Date", "Thu, 17 Nov 2005 18:49:58 GMT")
	h.Set("X-OSS-Magic", "abracadabra")
	h.Set("X-OSS-Meta-Author", "foo@bar.com")
	h.Set("Host", "oss-example.oss-cn-hangzhou.aliyuncs.com") // not signed
	sts := v1StringToSign("PUT", h, "oss-example", "nelson", url.Values{})
	want := "PUT\nODBGOERFMDMzQTczRUY3NUE3NzA5QzdFNUYzMDQxNEM=\ntext/html\nThu, 17 Nov 2005 18:49:58 GMT\n" +
		"x-oss-magic:abracadabra\nx-oss-meta-author:foo@bar.com\n/oss-example/nelson"
	if sts != want {
		t.Fatalf("string to sign:\n%q\nwant\n%q", sts, want)
	}
	if got := signV1("OtxrzxIsfpFjA7SwPzILwy8Bw21TLhquhboDYROV", sts); got != "26NBxoKdsyly4EDv6inkoDft/yA=" {
		t.Fatalf("signature %s, want 26NBxoKdsyly4EDv6inkoDft/yA=", got)
	}
}

func TestV1Resource(t *testing.T) {
	for _, tc := range []struct {
		name, bucket, key, query, want string
	}{
		{"plain", "b-1", "a/b c.mp4", "", "/b-1/a/b c.mp4"},
		{"part", "b-1", "k", "uploadId=U&partNumber=3", "/b-1/k?partNumber=3&uploadId=U"},
		{"bare sub-resource", "b-1", "k", "uploads", "/b-1/k?uploads"},
		{"empty value is bare", "b-1", "k", "uploadId=", "/b-1/k?uploadId"},
		{"list params unsigned", "b-1", "k", "uploadId=U&encoding-type=url&max-parts=2&part-number-marker=1", "/b-1/k?uploadId=U"},
		{"response override signed", "b-1", "k", "response-content-type=text%2Fplain", "/b-1/k?response-content-type=text/plain"},
		{"token in query", "b-1", "k", "security-token=CAIS", "/b-1/k?security-token=CAIS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q, err := url.ParseQuery(tc.query)
			if err != nil {
				t.Fatal(err)
			}
			if got := v1Resource(tc.bucket, tc.key, q); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestParseV4(t *testing.T) {
	const cred = "Credential=AK/20250101/cn-shanghai/oss/aliyun_v4_request"
	for _, tc := range []struct {
		name, header string
		ok           bool
		additional   string
	}{
		{"sdk style", cred + ",Signature=abc", true, ""},
		{"doc style spaces", cred + ", AdditionalHeaders=host;x-a, Signature=abc", true, "host;x-a"},
		{"no spaces additional", cred + ",AdditionalHeaders=Host,Signature=abc", true, "host"},
		{"missing signature", cred, false, ""},
		{"empty signature", cred + ",Signature=", false, ""},
		{"empty additional", cred + ",AdditionalHeaders=,Signature=abc", false, ""},
		{"wrong product", "Credential=AK/20250101/cn-shanghai/s3/aliyun_v4_request,Signature=abc", false, ""},
		{"wrong terminator", "Credential=AK/20250101/cn-shanghai/oss/abc,Signature=abc", false, ""},
		{"short credential", "Credential=AK/cn-shanghai/oss/aliyun_v4_request,Signature=abc", false, ""},
		{"unknown field", cred + ",Foo=1,Signature=abc", false, ""},
		{"no equals", cred + ",Signature", false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, ak, sig, c, e := parseV4(tc.header)
			if (e == nil) != tc.ok {
				t.Fatalf("ok=%v, err %v", e == nil, e)
			}
			if !tc.ok {
				if e.status != 400 {
					t.Errorf("status %d, want 400", e.status)
				}
				return
			}
			if ak != "AK" || sig != "abc" || c[2] != "cn-shanghai" || strings.Join(v.additional, ";") != tc.additional {
				t.Errorf("parsed ak=%s sig=%s cred=%v additional=%v", ak, sig, c, v.additional)
			}
		})
	}
}

// TestV4CanonicalRequest pins the canonical request layout: escaped key with
// '/' kept, every query parameter signed and sorted, x-oss-*, content-type
// and content-md5 headers plus the additional ones.
func TestV4CanonicalRequest(t *testing.T) {
	h := http.Header{}
	h.Set("Content-Type", "video/mp4")
	h.Set("X-Oss-Content-Sha256", "UNSIGNED-PAYLOAD")
	h.Set("X-Oss-Security-Token", " CAIS ")
	h.Set("User-Agent", "not signed")
	q, _ := url.ParseQuery("uploadId=U&encoding-type=url&max-parts=2&uploads")
	v := &v4Request{method: "GET", bucket: "b-1", key: "sv/a b+c~.mp4", query: q, header: h, host: "127.0.0.1:9",
		additional: []string{"host"}}
	want := "GET\n/b-1/sv/a%20b%2Bc~.mp4\nencoding-type=url&max-parts=2&uploadId=U&uploads\n" +
		"content-type:video/mp4\nhost:127.0.0.1:9\nx-oss-content-sha256:UNSIGNED-PAYLOAD\nx-oss-security-token:CAIS\n\nhost\nUNSIGNED-PAYLOAD"
	if got := v.canonicalRequest(); got != want {
		t.Fatalf("canonical request:\n%q\nwant\n%q", got, want)
	}
	v.timestamp, v.scope = "Wed, 01 Jan 2025 00:00:00 GMT", "20250101/cn-shanghai/oss/aliyun_v4_request"
	sts := v.stringToSign(want)
	if !strings.HasPrefix(sts, "OSS4-HMAC-SHA256\nWed, 01 Jan 2025 00:00:00 GMT\n20250101/cn-shanghai/oss/aliyun_v4_request\n") || len(sts) != 17+30+43+64 {
		t.Fatalf("string to sign %q", sts)
	}
	if sig := signV4("secret", "20250101", "cn-shanghai", sts); len(sig) != 64 || sig == signV4("secreT", "20250101", "cn-shanghai", sts) {
		t.Fatalf("signature %q", sig)
	}
}

func TestURIEscape(t *testing.T) {
	for _, tc := range []struct {
		in        string
		keepSlash bool
		want      string
	}{
		{"AZaz09-_.~", false, "AZaz09-_.~"},
		{"a b", false, "a%20b"},
		{"a/b", false, "a%2Fb"},
		{"a/b", true, "a/b"},
		{"+*=&?%", true, "%2B%2A%3D%26%3F%25"},
		{"视频", true, "%E8%A7%86%E9%A2%91"},
	} {
		if got := uriEscape(tc.in, tc.keepSlash); got != tc.want {
			t.Errorf("uriEscape(%q, %v) = %q, want %q", tc.in, tc.keepSlash, got, tc.want)
		}
	}
}
