package tusstore

import (
	"encoding/json"
	"strings"
)

// accelerateEndpoint returns the endpoint an upload's bytes go to instead
// of the region's: the Domain of an "oss" AccelerateConfig in the media's
// UserData (which the server's userData policy vetted when a client sent
// it), else Config.OSSAccelerate, else "".
func (s *Store) accelerateEndpoint(userData string) string {
	if strings.Contains(userData, "AccelerateConfig") {
		var ud struct {
			AccelerateConfig struct {
				Type   string `json:"Type"`
				Domain string `json:"Domain"`
			} `json:"AccelerateConfig"`
		}
		if json.Unmarshal([]byte(userData), &ud) == nil && ud.AccelerateConfig.Type == "oss" && ud.AccelerateConfig.Domain != "" {
			return ud.AccelerateConfig.Domain
		}
	}
	return s.cfg.OSSAccelerate
}
