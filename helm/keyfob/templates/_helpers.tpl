{{- define "keyfob.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}{{ .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else -}}{{ printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}{{- end -}}
{{- end -}}

{{- define "keyfob.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}{{ default (include "keyfob.fullname" .) .Values.serviceAccount.name }}
{{- else -}}{{ default "default" .Values.serviceAccount.name }}{{- end -}}
{{- end -}}

{{- define "keyfob.labels" -}}
app.kubernetes.io/name: keyfob
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "keyfob.selectorLabels" -}}
app.kubernetes.io/name: keyfob
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- /* The operator's rules for namespaced objects: cluster-wide in a ClusterRole, or a Role per watched namespace. */}}
{{- define "keyfob.namespacedRules" -}}
- apiGroups: ["keyfob.dev"]
  resources: ["accesskeyrequests"]
  verbs: ["get", "list", "watch", "patch"]
- apiGroups: ["keyfob.dev"]
  resources: ["accesskeyrequests/status"]
  verbs: ["patch"]
- apiGroups: ["keyfob.dev"]
  resources: ["accesskeyproviders"]
  verbs: ["get", "list", "watch", "patch"]
- apiGroups: ["keyfob.dev"]
  resources: ["accesskeyproviders/status"]
  verbs: ["patch"]
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create"]
- apiGroups: ["apps"]
  resources: ["deployments", "statefulsets"]
  verbs: ["patch"]
{{- end -}}

{{- define "keyfob.clusterProviderRules" -}}
- apiGroups: ["keyfob.dev"]
  resources: ["clusteraccesskeyproviders"]
  verbs: ["get", "list", "watch", "patch"]
- apiGroups: ["keyfob.dev"]
  resources: ["clusteraccesskeyproviders/status"]
  verbs: ["patch"]
{{- end -}}

{{- /* Usernames the admission policy treats as the operator: this release's ServiceAccount plus any listed. */}}
{{- define "keyfob.operatorUsernames" -}}
{{- $own := printf "system:serviceaccount:%s:%s" .Release.Namespace (include "keyfob.serviceAccountName" .) -}}
{{- toJson (uniq (prepend .Values.admission.operatorUsernames $own)) -}}
{{- end -}}

{{- define "keyfob.leaseName" -}}
{{- printf "%s-leader" (include "keyfob.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
