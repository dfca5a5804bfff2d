{{/* Chart name, truncated to the 63 characters of a DNS label. */}}
{{- define "llmix-workers.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Release-qualified name used for every object. */}}
{{- define "llmix-workers.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "llmix-workers.selectorLabels" -}}
app.kubernetes.io/name: {{ include "llmix-workers.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "llmix-workers.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "llmix-workers.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: llmix-workers
{{- end -}}

{{- define "llmix-workers.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "llmix-workers.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "llmix-workers.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* Seconds Kubernetes waits after SIGTERM: above the task time limit unless set. */}}
{{- define "llmix-workers.gracePeriod" -}}
{{- $limit := int (ceil .Values.worker.taskTimeLimitS) -}}
{{- if kindIs "invalid" .Values.terminationGracePeriodSeconds -}}
{{- add $limit 30 -}}
{{- else if le (int .Values.terminationGracePeriodSeconds) $limit -}}
{{- fail (printf "terminationGracePeriodSeconds (%v) must exceed worker.taskTimeLimitS (%v): Celery's warm shutdown waits for running jobs" .Values.terminationGracePeriodSeconds .Values.worker.taskTimeLimitS) -}}
{{- else -}}
{{- int .Values.terminationGracePeriodSeconds -}}
{{- end -}}
{{- end -}}

{{/*
settings.toml as a dict: the free-form `settings` values, overwritten by the options the chart
derives from its own values. Rendered with toToml into the ConfigMap.
*/}}
{{- define "llmix-workers.settings" -}}
{{- $s := deepCopy (default dict .Values.settings) -}}
{{- $worker := dict "pool" .Values.worker.pool "concurrency" (int .Values.worker.concurrency) "queue" (first .Values.worker.queues) "task_time_limit_s" (float64 .Values.worker.taskTimeLimitS) "task_soft_time_limit_s" (float64 .Values.worker.taskSoftTimeLimitS) -}}
{{- $telemetry := dict "metrics_port" (int .Values.metrics.port) "metrics_host" "0.0.0.0" "multiproc_dir" .Values.metrics.multiprocDir -}}
{{- $_ := set $s "worker" (mergeOverwrite (default dict $s.worker) $worker) -}}
{{- $_ := set $s "telemetry" (mergeOverwrite (default dict $s.telemetry) $telemetry) -}}
{{- toToml $s -}}
{{- end -}}

{{/* Pod security context: non-root with the image's numeric uid, default seccomp profile. */}}
{{- define "llmix-workers.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "llmix-workers.containerSecurityContext" -}}
runAsNonRoot: true
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* One env entry read from the existing Secret. Args: list of env name, key, root context. */}}
{{- define "llmix-workers.secretEnv" -}}
{{- $name := index . 0 -}}{{- $key := index . 1 -}}{{- $root := index . 2 -}}
- name: {{ $name }}
  valueFrom:
    secretKeyRef:
      name: {{ $root.Values.secrets.existingSecret | quote }}
      key: {{ $key | quote }}
{{- end -}}

{{/*
Env shared by the worker and the cache-clear job: the settings file, the options the image's
environment also sets (environment wins over the file, so they are set here from the same
values), and the secret URLs and keys by reference.
*/}}
{{- define "llmix-workers.env" -}}
- name: LLMIX_SETTINGS
  value: /etc/llmix/settings.toml
- name: LLMIX_TELEMETRY__METRICS_PORT
  value: {{ .Values.metrics.port | quote }}
- name: LLMIX_TELEMETRY__MULTIPROC_DIR
  value: {{ .Values.metrics.multiprocDir | quote }}
- name: TMPDIR
  value: /tmp
{{- $s := .Values.secrets }}
{{- if $s.redisUrlKey }}
{{ include "llmix-workers.secretEnv" (list "LLMIX_REDIS__URL" $s.redisUrlKey .) }}
{{- end }}
{{- if $s.brokerUrlKey }}
{{ include "llmix-workers.secretEnv" (list "LLMIX_WORKER__BROKER_URL" $s.brokerUrlKey .) }}
{{- end }}
{{- if $s.resultBackendKey }}
{{ include "llmix-workers.secretEnv" (list "LLMIX_WORKER__RESULT_BACKEND" $s.resultBackendKey .) }}
{{- end }}
{{- if $s.fleetRedisUrlKey }}
{{ include "llmix-workers.secretEnv" (list "LLMIX_FLEET__REDIS_URL" $s.fleetRedisUrlKey .) }}
{{- end }}
{{- range $env, $key := $s.providerKeys }}
{{ include "llmix-workers.secretEnv" (list $env $key $) }}
{{- end }}
{{- end -}}

{{/* Volumes shared by the worker and the cache-clear job. */}}
{{- define "llmix-workers.volumes" -}}
- name: config
  configMap:
    name: {{ include "llmix-workers.fullname" . }}-settings
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.tmpSizeLimit }}
- name: metrics
  emptyDir:
    sizeLimit: 64Mi
{{- end -}}

{{- define "llmix-workers.volumeMounts" -}}
- name: config
  mountPath: /etc/llmix
  readOnly: true
- name: tmp
  mountPath: /tmp
- name: metrics
  mountPath: {{ .Values.metrics.multiprocDir }}
{{- end -}}
