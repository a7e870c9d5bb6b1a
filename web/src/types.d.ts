declare module "dcmjs" {
  const dcmjs: any;
  export default dcmjs;
}
declare module "*.css";
