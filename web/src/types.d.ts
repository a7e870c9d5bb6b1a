declare module "dcmjs";
declare module "*.css";
