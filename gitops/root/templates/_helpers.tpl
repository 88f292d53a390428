{{- define "root.required" -}}
{{- required "repoURL is empty: the root Application sets it from gitops.repoURL in config/clusters.yaml" .Values.repoURL -}}
{{- end -}}
