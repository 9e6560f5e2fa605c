output "cluster_name" {
  description = "GKE cluster name (gcloud container clusters get-credentials)."
  value       = google_container_cluster.pixring.name
}

output "cluster_endpoint" {
  description = "Control plane endpoint."
  value       = google_container_cluster.pixring.endpoint
  sensitive   = true
}

output "workload_identity_pool" {
  description = "Workload Identity pool of the cluster."
  value       = "${var.project_id}.svc.id.goog"
}

output "lakehouse_url" {
  description = "Root of the Delta tables and checkpoints."
  value       = "gs://${google_storage_bucket.lakehouse.name}"
}

output "mlflow_artifacts_url" {
  description = "MLflow artifact destination."
  value       = "gs://${google_storage_bucket.mlflow.name}/artifacts"
}

output "service_account_emails" {
  description = "GCP service account per Kubernetes service account: the iam.gke.io/gcp-service-account annotations of infra/k8s/overlays/gke."
  value       = { for ksa, sa in google_service_account.workload : ksa => sa.email }
}
