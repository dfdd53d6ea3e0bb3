package osstest

import "time"

// Grant is an STS credential scoped to one object, as VOD's UploadAuth is.
//
// Requests signed with AccessKeyID must carry x-oss-security-token equal to
// SecurityToken and may only touch (Bucket, Key). An empty Key allows every key
// of Bucket and an empty Bucket every bucket. A zero Expires never expires.
type Grant struct {
	AccessKeyID, AccessKeySecret, SecurityToken, Bucket, Key string
	Expires                                                  time.Time
}

// credential is a registered access key: long-lived (token == "") or a grant.
type credential struct {
	id, secret, token string
	bucket, key       string
	expires           time.Time
	sts               bool
}

// AddAccessKey registers a long-lived access key (no security token) with
// access to every bucket and key. Re-adding an id replaces its secret.
func (s *Server) AddAccessKey(id, secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.creds[id] = &credential{id: id, secret: secret}
}

// Grant registers (or replaces) an STS credential. It does not touch other
// grants: after a refresh the old credential keeps working until it expires
// or is revoked, as with real STS.
func (s *Server) Grant(g Grant) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.creds[g.AccessKeyID] = &credential{
		id: g.AccessKeyID, secret: g.AccessKeySecret, token: g.SecurityToken,
		bucket: g.Bucket, key: g.Key, expires: g.Expires, sts: true,
	}
}

// RevokeGrant forgets an access key (grant or long-lived): later requests
// with it get 403 InvalidAccessKeyId.
func (s *Server) RevokeGrant(accessKeyID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.creds, accessKeyID)
}

// ExpireAll makes every STS credential expire now (by the server's Clock):
// later requests with them get 403 SecurityTokenExpired. Grants made after
// the call are unaffected.
func (s *Server) ExpireAll() {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.creds {
		if c.sts && (c.expires.IsZero() || c.expires.After(now)) {
			c.expires = now
		}
	}
}

// lookupCred returns a copy of the credential for id and, when token is not
// empty, whether token belongs to some other registered grant.
func (s *Server) lookupCred(id, token string) (c credential, ok, tokenKnown bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.creds[id]; p != nil {
		c, ok = *p, true
	}
	if token != "" {
		for _, o := range s.creds {
			if o.sts && o.token == token {
				tokenKnown = true
				break
			}
		}
	}
	return c, ok, tokenKnown
}

// allows reports whether the credential's scope covers bucket/key.
func (c *credential) allows(bucket, key string) bool {
	if !c.sts {
		return true
	}
	return (c.bucket == "" || c.bucket == bucket) && (c.key == "" || c.key == key)
}
