package vodtest

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

const maxIDsPerCall = 20

func (s *Server) getVideoInfo(_ context.Context, req *request) (map[string]any, *apiError) {
	rec, aerr := s.lookupVideo(req.params)
	if aerr != nil {
		return nil, aerr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.snapshotLocked(rec, req.now)
	video := map[string]any{
		"VideoId":          m.ID,
		"Title":            m.Title,
		"Status":           m.Status,
		"StorageLocation":  rec.storage,
		"CreationTime":     isoTime(m.Created),
		"ModificationTime": isoTime(rec.modified),
		"RegionId":         s.cfg.Region,
		"AppId":            valueOr(m.Params["AppId"], defaultAppID),
		"StorageClass":     "Standard",
		"DownloadSwitch":   "on",
		"AuditStatus":      "Init",
		"Snapshots":        map[string]any{"Snapshot": []string{}},
	}
	for _, k := range []string{"Description", "CoverURL", "Tags", "TemplateGroupId", "UserData", "ReferenceId"} {
		if v := m.Params[k]; v != "" {
			video[k] = v
		}
	}
	if c, err := strconv.ParseInt(m.Params["CateId"], 10, 64); err == nil {
		video["CateId"] = c
	}
	if m.Size > 0 {
		video["Size"] = m.Size
	}
	return map[string]any{"Video": video}, nil
}

func (s *Server) getMezzanineInfo(_ context.Context, req *request) (map[string]any, *apiError) {
	rec, aerr := s.lookupVideo(req.params)
	if aerr != nil {
		return nil, aerr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.snapshotLocked(rec, req.now)
	mezz := map[string]any{
		"VideoId":      m.ID,
		"FileName":     m.FileName,
		"Status":       m.Status,
		"CreationTime": isoTime(m.Created),
		"FileURL":      s.objectURL(rec),
		"OutputType":   "oss",
		"StorageClass": "Standard",
	}
	if m.Size > 0 {
		mezz["Size"] = m.Size
	}
	return map[string]any{"Mezzanine": mezz}, nil
}

func (s *Server) getUploadDetails(_ context.Context, req *request) (map[string]any, *apiError) {
	ids, aerr := splitIDs(req.params, "MediaIds", true)
	if aerr != nil {
		return nil, aerr
	}
	if t := req.params["MediaType"]; t != "" && t != MediaVideo {
		return nil, errInvalid("MediaType")
	}
	// Bytes of open multipart uploads, read before taking s.mu (never call OSS under s.mu).
	inFlight := map[string]int64{}
	for _, u := range s.cfg.OSS.Uploads() {
		inFlight[objectKey(u.Bucket, u.Key)] += u.Bytes
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	details := []map[string]any{}
	nonExist, forbidden := []string{}, []string{}
	for _, id := range ids {
		rec, ok := s.media[id]
		switch {
		case !ok || rec.Type != MediaVideo:
			nonExist = append(nonExist, id)
			continue
		case rec.forbidden:
			forbidden = append(forbidden, id)
			continue
		}
		m := s.snapshotLocked(rec, req.now)
		size, uploadStatus := inFlight[objectKey(m.Bucket, m.Key)], StatusUploading
		if !rec.completed.IsZero() {
			size, uploadStatus = m.Size, StatusUploadSucc
		}
		d := map[string]any{
			"MediaId": m.ID, "Title": m.Title, "Status": m.Status, "UploadStatus": uploadStatus,
			"UploadSize": size, "UploadIP": "127.0.0.1", "UploadSource": "OpenAPI",
			"CreationTime": isoTime(m.Created), "ModificationTime": isoTime(rec.modified),
		}
		if fs, err := strconv.ParseInt(m.Params["FileSize"], 10, 64); err == nil && fs > 0 {
			d["FileSize"] = fs
			d["UploadRatio"] = float64(size) / float64(fs)
		}
		if !rec.completed.IsZero() {
			d["CompletionTime"] = isoTime(rec.completed)
		}
		details = append(details, d)
	}
	return map[string]any{"UploadDetails": details, "NonExistMediaIds": nonExist, "ForbiddenMediaIds": forbidden}, nil
}

func (s *Server) getImageInfo(_ context.Context, req *request) (map[string]any, *apiError) {
	id := req.params["ImageId"]
	if id == "" {
		return nil, errMissing("ImageId")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.media[id]
	if !ok || rec.Type != MediaImage {
		return nil, newError(http.StatusNotFound, codeImageNotFound, "The image does not exist.")
	}
	if rec.forbidden {
		return nil, errForbidden()
	}
	m := s.snapshotLocked(rec, req.now)
	u := s.objectURL(rec)
	mezz := map[string]any{"FileURL": u, "OriginalFileName": m.FileName}
	if m.Size > 0 {
		mezz["FileSize"] = strconv.FormatInt(m.Size, 10)
	}
	info := map[string]any{
		"ImageId": m.ID, "Title": m.Title, "Status": m.Status, "ImageType": m.Params["ImageType"],
		"StorageLocation": rec.storage, "CreationTime": isoTime(m.Created), "URL": u,
		"AppId": valueOr(m.Params["AppId"], defaultAppID), "Mezzanine": mezz,
	}
	for _, k := range []string{"Description", "Tags"} {
		if v := m.Params[k]; v != "" {
			info[k] = v
		}
	}
	return map[string]any{"ImageInfo": info}, nil
}

func (s *Server) deleteVideo(_ context.Context, req *request) (map[string]any, *apiError) {
	ids, aerr := splitIDs(req.params, "VideoIds", false)
	if aerr != nil {
		return nil, aerr
	}
	refs, aerr := splitIDs(req.params, "ReferenceIds", false)
	if aerr != nil {
		return nil, aerr
	}
	if len(ids) == 0 && len(refs) == 0 {
		return nil, errMissing("VideoIds")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	nonExistRefs := []string{}
	for _, ref := range refs {
		found := ""
		for _, rec := range s.media {
			if rec.Type == MediaVideo && rec.Params["ReferenceId"] == ref {
				found = rec.ID
			}
		}
		if found == "" {
			nonExistRefs = append(nonExistRefs, ref)
			continue
		}
		ids = append(ids, found)
	}
	nonExist, forbidden := s.deleteLocked(ids, MediaVideo)
	return map[string]any{"NonExistVideoIds": nonExist, "ForbiddenVideoIds": forbidden, "NonExistReferenceIds": nonExistRefs}, nil
}

func (s *Server) deleteImage(_ context.Context, req *request) (map[string]any, *apiError) {
	p := req.params
	s.mu.Lock()
	defer s.mu.Unlock()
	switch p["DeleteImageType"] {
	case "":
		return nil, errMissing("DeleteImageType")
	case "ImageId":
		ids, aerr := splitIDs(p, "ImageIds", true)
		if aerr != nil {
			return nil, aerr
		}
		s.deleteLocked(ids, MediaImage)
	case "ImageURL":
		urls, aerr := splitIDs(p, "ImageURLs", true)
		if aerr != nil {
			return nil, aerr
		}
		for _, raw := range urls {
			u, err := url.QueryUnescape(raw)
			if err != nil {
				return nil, errInvalid("ImageURLs")
			}
			for id, rec := range s.media {
				if rec.Type == MediaImage && s.objectURL(rec) == u {
					s.deleteLocked([]string{id}, MediaImage)
				}
			}
		}
	case "VideoId":
		// Images are not linked to videos in the simulator: nothing to delete.
		if p["VideoId"] == "" {
			return nil, errMissing("VideoId")
		}
		if p["ImageType"] == "" {
			return nil, errMissing("ImageType")
		}
	default:
		return nil, errInvalid("DeleteImageType")
	}
	return map[string]any{}, nil
}

func (s *Server) deleteAttachedMedia(_ context.Context, req *request) (map[string]any, *apiError) {
	ids, aerr := splitIDs(req.params, "MediaIds", true)
	if aerr != nil {
		return nil, aerr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	nonExist, _ := s.deleteLocked(ids, MediaAttached)
	return map[string]any{"NonExistMediaIds": nonExist}, nil
}

func (s *Server) deleteMultipartUpload(_ context.Context, req *request) (map[string]any, *apiError) {
	p := req.params
	if p["MediaId"] == "" {
		return nil, errMissing("MediaId")
	}
	switch p["MediaType"] {
	case "":
		return nil, errMissing("MediaType")
	case MediaVideo:
	default:
		return nil, errInvalid("MediaType")
	}
	rec, aerr := s.lookupVideo(map[string]string{"VideoId": p["MediaId"]})
	if aerr != nil {
		return nil, aerr
	}
	s.mu.Lock()
	bucket, key := rec.Bucket, rec.Key
	s.mu.Unlock()
	n := s.cfg.OSS.AbortUploads(bucket, key)
	s.log.Debug("MultipartUploadsDeleted", "id", rec.ID, "aborted", n)
	return map[string]any{}, nil
}

// deleteLocked removes the media of type typ among ids and reports unknown and forbidden ids.
// Callers hold s.mu. The source object stays in the OSS simulator.
func (s *Server) deleteLocked(ids []string, typ string) (nonExist, forbidden []string) {
	nonExist, forbidden = []string{}, []string{}
	for _, id := range ids {
		rec, ok := s.media[id]
		switch {
		case !ok || rec.Type != typ:
			nonExist = append(nonExist, id)
		case rec.forbidden:
			forbidden = append(forbidden, id)
		default:
			delete(s.media, id)
			delete(s.byObject, objectKey(rec.Bucket, rec.Key))
		}
	}
	return nonExist, forbidden
}

// splitIDs splits a comma-separated list parameter (at most 20 entries).
func splitIDs(p map[string]string, name string, required bool) ([]string, *apiError) {
	v := strings.TrimSpace(p[name])
	if v == "" {
		if required {
			return nil, errMissing(name)
		}
		return nil, nil
	}
	var out []string
	for _, id := range strings.Split(v, ",") {
		if id = strings.TrimSpace(id); id != "" {
			out = append(out, id)
		}
	}
	if len(out) > maxIDsPerCall {
		return nil, errInvalid(name)
	}
	return out, nil
}

func valueOr(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
