pub mod pvc_job;
