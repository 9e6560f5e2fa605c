variable "project_id" {
  description = "GCP project that holds the cluster, the buckets and the service accounts."
  type        = string
}

variable "region" {
  description = "Region of the cluster and the buckets (Sao Paulo keeps data in Brazil, LGPD)."
  type        = string
  default     = "southamerica-east1"
}

variable "cluster_name" {
  description = "Name of the GKE cluster."
  type        = string
  default     = "pixring"
}

variable "namespace" {
  description = "Kubernetes namespace of the workloads (infra/k8s/base/namespace.yaml)."
  type        = string
  default     = "pixring"
}

variable "general_machine_type" {
  description = "Machine type of the general pool (API, Kafka, Neo4j, MLflow)."
  type        = string
  default     = "n2-standard-16"
}

variable "general_min_nodes" {
  description = "Minimum nodes per zone in the general pool."
  type        = number
  default     = 1
}

variable "general_max_nodes" {
  description = "Maximum nodes per zone in the general pool."
  type        = number
  default     = 4
}

variable "spark_machine_type" {
  description = "Machine type of the Spark pool (the streaming scorer's driver and executors)."
  type        = string
  default     = "n2-highmem-8"
}

variable "spark_min_nodes" {
  description = "Minimum nodes per zone in the Spark pool."
  type        = number
  default     = 1
}

variable "spark_max_nodes" {
  description = "Maximum nodes per zone in the Spark pool."
  type        = number
  default     = 6
}

variable "lakehouse_bucket" {
  description = "GCS bucket of the Delta tables and streaming checkpoints."
  type        = string
}

variable "mlflow_bucket" {
  description = "GCS bucket of the MLflow artifact store."
  type        = string
}

variable "workloads" {
  description = "Kubernetes service accounts (infra/k8s) and the bucket roles of their GCP service accounts."
  type = map(object({
    display_name = string
    bucket_roles = map(string)
  }))
  default = {
    "pixring-api" = {
      display_name = "pixring API (read model, scoring)"
      bucket_roles = { lakehouse = "roles/storage.objectViewer" }
    }
    "pixring-spark" = {
      display_name = "pixring Spark jobs (streaming scorer, batch)"
      bucket_roles = { lakehouse = "roles/storage.objectAdmin" }
    }
    "pixring-mlflow" = {
      display_name = "pixring MLflow tracking server"
      bucket_roles = { mlflow = "roles/storage.objectAdmin" }
    }
    "pixring-neo4j" = {
      display_name = "pixring Neo4j (no cloud access)"
      bucket_roles = {}
    }
  }
}
