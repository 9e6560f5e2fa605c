locals {
  buckets = {
    lakehouse = google_storage_bucket.lakehouse.name
    mlflow    = google_storage_bucket.mlflow.name
  }
  bucket_grants = merge([
    for ksa, w in var.workloads : {
      for bucket, role in w.bucket_roles : "${ksa}/${bucket}" => {
        ksa    = ksa
        bucket = bucket
        role   = role
      }
    }
  ]...)
}

# --- cluster --------------------------------------------------------------------------------------------

resource "google_service_account" "nodes" {
  account_id   = "${var.cluster_name}-nodes"
  display_name = "GKE nodes of ${var.cluster_name} (logs, metrics, image pulls only)"
}

resource "google_project_iam_member" "nodes" {
  for_each = toset([
    "roles/logging.logWriter",
    "roles/monitoring.metricWriter",
    "roles/monitoring.viewer",
    "roles/artifactregistry.reader",
  ])
  project = var.project_id
  role    = each.value
  member  = "serviceAccount:${google_service_account.nodes.email}"
}

resource "google_container_cluster" "pixring" {
  name     = var.cluster_name
  location = var.region

  # node pools are managed below
  remove_default_node_pool = true
  initial_node_count       = 1

  release_channel {
    channel = "REGULAR"
  }

  workload_identity_config {
    workload_pool = "${var.project_id}.svc.id.goog"
  }

  # Dataplane V2 enforces the NetworkPolicies of infra/k8s
  datapath_provider = "ADVANCED_DATAPATH"

  private_cluster_config {
    enable_private_nodes    = true
    enable_private_endpoint = false
    master_ipv4_cidr_block  = "172.16.0.0/28"
  }

  ip_allocation_policy {}

  enable_shielded_nodes = true
  deletion_protection   = true
}

resource "google_container_node_pool" "general" {
  name     = "general"
  cluster  = google_container_cluster.pixring.id
  location = var.region

  autoscaling {
    min_node_count = var.general_min_nodes
    max_node_count = var.general_max_nodes
  }

  management {
    auto_repair  = true
    auto_upgrade = true
  }

  node_config {
    machine_type    = var.general_machine_type
    disk_type       = "pd-balanced"
    disk_size_gb    = 100
    service_account = google_service_account.nodes.email
    oauth_scopes    = ["https://www.googleapis.com/auth/cloud-platform"]

    workload_metadata_config {
      mode = "GKE_METADATA"
    }

    shielded_instance_config {
      enable_secure_boot = true
    }
  }
}

resource "google_container_node_pool" "spark" {
  # the SparkApplication selects it with cloud.google.com/gke-nodepool=spark
  name     = "spark"
  cluster  = google_container_cluster.pixring.id
  location = var.region

  autoscaling {
    min_node_count = var.spark_min_nodes
    max_node_count = var.spark_max_nodes
  }

  management {
    auto_repair  = true
    auto_upgrade = true
  }

  node_config {
    machine_type    = var.spark_machine_type
    disk_type       = "pd-ssd"
    disk_size_gb    = 200
    service_account = google_service_account.nodes.email
    oauth_scopes    = ["https://www.googleapis.com/auth/cloud-platform"]
    labels = {
      workload = "spark"
    }

    workload_metadata_config {
      mode = "GKE_METADATA"
    }

    shielded_instance_config {
      enable_secure_boot = true
    }
  }
}

# --- storage --------------------------------------------------------------------------------------------

resource "google_storage_bucket" "lakehouse" {
  name                        = var.lakehouse_bucket
  location                    = var.region
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"

  # Delta keeps its own versions (time travel, VACUUM); object versioning would only double storage
  versioning {
    enabled = false
  }

  soft_delete_policy {
    retention_duration_seconds = 604800
  }
}

resource "google_storage_bucket" "mlflow" {
  name                        = var.mlflow_bucket
  location                    = var.region
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"

  versioning {
    enabled = true
  }
}

# --- workload identities --------------------------------------------------------------------------------

resource "google_service_account" "workload" {
  for_each     = var.workloads
  account_id   = each.key
  display_name = each.value.display_name
}

# the Kubernetes service account <namespace>/<name> may act as its GCP service account, and nothing else may
resource "google_service_account_iam_member" "workload_identity" {
  for_each           = var.workloads
  service_account_id = google_service_account.workload[each.key].name
  role               = "roles/iam.workloadIdentityUser"
  member             = "serviceAccount:${var.project_id}.svc.id.goog[${var.namespace}/${each.key}]"
}

# bucket-scoped roles only: no project-wide storage access
resource "google_storage_bucket_iam_member" "workload" {
  for_each = local.bucket_grants
  bucket   = local.buckets[each.value.bucket]
  role     = each.value.role
  member   = "serviceAccount:${google_service_account.workload[each.value.ksa].email}"
}
